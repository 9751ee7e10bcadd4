"""The audit trail: every accepted and rejected change with its actor, object, old and new value.

Each change is appended to the hash-chained SQLite store (`audit_store`) and logged as an `audit` line
carrying the row's hash, so the journal holds an independent copy of the chain's head.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import structlog

from relevent.obs.audit_store import AuditEntry, AuditError, AuditStore, iso_time
from relevent.scheduler.commands import Actor, Rejected
from relevent.scheduler.events import CommandHandled, Event

log = structlog.get_logger("relevent.audit")


def result_label(event: CommandHandled) -> str:
    """`accepted`, or the rejection reason (`access_denied`, `value_invalid`, ...)."""
    return event.result.reason.value if isinstance(event.result, Rejected) else "accepted"


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def command_entry(event: CommandHandled) -> AuditEntry:
    """The audit entry of one answered command."""
    rejected = event.result if isinstance(event.result, Rejected) else None
    return AuditEntry(
        time=iso_time(event.timestamp),
        actor=event.actor.user or "",
        protocol=event.actor.protocol,
        peer=event.actor.peer,
        command=event.command,
        object=event.ref,
        old=json.dumps(_plain(event.old)),
        new=json.dumps(_plain(event.new)),
        result=result_label(event),
        reason=rejected.message if rejected else "",
    )


class AuditLog:
    """Appends every command the scheduler answered (and adapters' own refusals) to the trail."""

    def __init__(self, store: AuditStore | None = None) -> None:
        self._store = store

    def on_event(self, event: Event) -> None:
        """Subscriber of the engine's events; only command answers are audited."""
        if isinstance(event, CommandHandled):
            self.record(command_entry(event))

    def refused(self, actor: Actor, command: str, obj: str, reason: str, at: float) -> None:
        """Audit a request an adapter refused before it reached the scheduler (e.g. a spoofing device)."""
        self._note(actor, command, obj, "refused", reason, at)

    def restore(self, store: str, obj: str, result: str, reason: str, at: float) -> None:
        """Audit stored state that start-up could not use: a `dropped` row, a `lost` (emptied) store."""
        self._note(Actor("store", store), "restore", obj, result, reason, at)

    def _note(  # noqa: PLR0913, PLR0917 - the fields of an entry the callers fill differently
        self, actor: Actor, command: str, obj: str, result: str, reason: str, at: float
    ) -> None:
        """An entry that changed no value (old and new are null)."""
        self.record(AuditEntry(iso_time(at), actor.user or "", actor.protocol, actor.peer, command, obj,
                               "null", "null", result, reason))  # fmt: skip

    def record(self, entry: AuditEntry) -> None:
        """Append `entry`; a failing store is logged with the entry, never raised into the caller."""
        fields = {**asdict(entry), "old": json.loads(entry.old), "new": json.loads(entry.new)}
        if self._store is None:
            log.info("audit", **fields)
            return
        try:
            row = self._store.append(entry)
        except AuditError:
            log.exception("audit store failed; entry only in this log", **fields)
            return
        log.info("audit", seq=row.seq, hash=row.hash, **fields)
