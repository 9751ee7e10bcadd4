"""The audit trail: every accepted and rejected change with its actor, object, old and new value.

Each change is appended to the keyed chain in SQLite (`audit_store`), the anchor file is moved to the new
head (`audit_anchor`) and an `audit` line carrying the row's MAC is logged, so the journal holds an
independent copy of the chain's head. Refusals repeated by one peer are folded: the first `FOLD_AFTER` of a
window are written, the rest counted into one row when the window ends, so a flood cannot fill the disk.
Entries that cannot be written (disk full) are logged in full and leave a chained `gap` row once the store
takes writes again; until then the gateway is not ready.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Counter

from relevent.config import AuditSection, default
from relevent.obs.audit_anchor import ANCHOR_AFTER_S, HEAD_EVERY, TRUNCATED, Anchor, anchor_problem
from relevent.obs.audit_store import AuditEntry, AuditError, AuditRow, AuditStore, iso_time
from relevent.scheduler.commands import Actor, Now, Rejected
from relevent.scheduler.events import CommandHandled, Event
from relevent.scheduler.verdicts import Cancelled, Intent, IntentHandled, Placed, Refused
from relevent.turns import OncePerTurn

log = structlog.get_logger("relevent.audit")

FOLD_AFTER = 10  # refusals of one peer written in full per window; beyond, they are counted
MAX_FOLDING = 1024  # peers whose refusals are being folded at once; beyond, every fold is written out
RETENTION_EVERY_S = 3600.0
_DAY_S = 86400.0


def result_label(event: CommandHandled) -> str:
    """`accepted`, or the rejection reason (`access_denied`, `value_invalid`, ...)."""
    return event.result.reason.value if isinstance(event.result, Rejected) else "accepted"


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def actor_entry(  # noqa: PLR0913 - the fields of an entry
    at: float,
    actor: Actor,
    command: str,
    obj: str,
    *,
    result: str,
    reason: str,
    old: object = None,
    new: object = None,
) -> AuditEntry:
    """An entry of `actor`'s `command` on `obj` (old and new as JSON)."""
    return AuditEntry(iso_time(at), actor.user or "", actor.protocol, actor.peer, command, obj,
                      json.dumps(old), json.dumps(new), result, reason)  # fmt: skip


def command_entry(event: CommandHandled) -> AuditEntry:
    """The audit entry of one answered command."""
    rejected = event.result if isinstance(event.result, Rejected) else None
    return actor_entry(event.timestamp, event.actor, event.command, event.ref, result=result_label(event),
                       reason=rejected.message if rejected else "", old=_plain(event.old),
                       new=_plain(event.new))  # fmt: skip


def intent_entry(event: IntentHandled) -> AuditEntry:
    """The audit entry of one answered intent or cancel.

    Its key and target, what it asked for (function, start, interval, values), and the slots it went to
    or the refusal.
    """
    verdict = event.verdict
    new: dict[str, object] = {} if event.asked is None else {"asked": _asked(event.asked)}
    if isinstance(verdict, Placed):
        new.update(slots=list(verdict.slots), priority=verdict.priority)
    elif isinstance(verdict, Cancelled):
        new.update(slots=list(verdict.slots))
    refused = verdict if isinstance(verdict, Refused) else None
    obj = f"{event.target} key {event.key}" if event.target else f"key {event.key}"
    return actor_entry(event.timestamp, event.actor, event.command, obj,
                       result=refused.reason.value if refused else "accepted",
                       reason=refused.message if refused else "", new=new or None)  # fmt: skip


def _asked(intent: Intent) -> dict[str, object]:
    start = intent.start
    return {
        "function": intent.function.value,
        "start": iso_time(start) if not isinstance(start, Now) else f"now+{start.after_s:g}s",
        "interval_s": intent.interval_s,  # None: until changed
        "values": list(intent.values),
        "rel_priority": intent.rel_priority,
        "test": intent.test,
    }


def _own_entry(at: float, result: str, reason: str) -> AuditEntry:
    """A row the audit writes about itself (a gap, a cut)."""
    return AuditEntry(iso_time(at), "", "audit", "", "audit", "trail", "null", "null", result, reason)


@dataclass(slots=True)
class _Fold:
    """The refusals of one peer, actor and verdict within a window: the first written, the rest counted."""

    since: float
    written: int = 1
    count: int = 0
    last: AuditEntry | None = None


@dataclass(slots=True)
class _Gap:
    """Entries the store did not take, between two that it did."""

    first: str
    last: str
    count: int
    error: str


class AuditLog:
    """Appends every command the scheduler answered (and adapters' own refusals) to the trail."""

    def __init__(
        self,
        store: AuditStore,
        anchor: Anchor,
        registry: CollectorRegistry | None = None,
        *,
        fold_window_s: float = default(AuditSection, "fold_window_s"),
        retention_days: float | None = None,
    ) -> None:
        self._store = store
        self._anchor = anchor
        self._fold_window_s = fold_window_s
        self._retention_days = retention_days
        self._folds: dict[tuple[str, str, str, str], _Fold] = {}
        self._gap: _Gap | None = None
        self._pruned_at = 0.0  # monotonic
        self.intact_at_start = True  # whether `start` found the trail reaching its anchor
        self.last_by_actor: dict[str, AuditRow] = {}  # each actor's newest entry (by protocol if anonymous)
        # A burst of entries (a flood of commands, a SCADA programming a schedule) costs one synced anchor
        # write, kept off the path of the commands' effects (their device writes, their answers).
        self._anchoring = OncePerTurn(self._write_anchor, after_s=ANCHOR_AFTER_S)
        self._lost = Counter("relevent_audit_lost_total", "audit entries only in the log: the store failed",
                             registry=registry)  # fmt: skip
        self._folded = Counter("relevent_audit_folded_total", "refusals counted into a folded audit row",
                               registry=registry)  # fmt: skip

    @property
    def writable(self) -> bool:
        """Whether the last write reached the store (`/readyz`'s `audit_writable`)."""
        return self._gap is None

    def start(self, now: float) -> None:
        """Check the trail against its anchor, apply the retention, anchor and log the head.

        A trail that does not reach its anchor gets a `truncated` row chained: `audit verify` reports it.
        """
        problem = anchor_problem(self._store, self._anchor)
        self.intact_at_start = problem is None
        if problem is not None:
            log.error("audit trail does not reach its anchor", problem=problem)
            self._append(_own_entry(now, TRUNCATED, problem))
        self._prune(now)
        # At once, not after a burst: a crash soon after the first start must find an anchor, not none.
        self._set_anchor()
        self._anchoring.flush()
        log.info("audit head", seq=self._store.head.seq, mac=self._store.head.mac)

    async def run(self) -> None:
        """Write out folds whose window ended, retry a pending gap, apply the retention: until cancelled."""
        while True:
            await asyncio.sleep(self._fold_window_s)
            self.tick(time.time())

    def tick(self, now: float) -> None:
        """One round of `run`."""
        for key, fold in list(self._folds.items()):
            if now - fold.since >= self._fold_window_s:
                self._unfold(key, fold)
        if self._gap is not None:
            self._close_gap(now)
        if time.monotonic() - self._pruned_at >= RETENTION_EVERY_S:
            self._prune(now)

    def close(self) -> None:
        """Write out every fold, then release the store."""
        for key, fold in list(self._folds.items()):
            self._unfold(key, fold)
        self._anchoring.flush()
        self._store.close()

    def latest(self, limit: int, match: Mapping[str, str]) -> list[AuditRow]:
        """The newest entries, newest first (see `AuditStore.latest`); `AuditError` when unreadable."""
        return self._store.latest(limit, match)

    @property
    def head(self) -> int:
        """The newest row's sequence number."""
        return self._store.head.seq

    def on_event(self, event: Event) -> None:
        """Subscriber of the engine's events; command answers are audited, but for programs.

        Programs come from the intent API alone, whose answer (`on_intent`) is their row, with the values
        asked and the slots they went to: one synced row per placement, not two.
        """
        if isinstance(event, CommandHandled) and event.command != "program":
            self.record(command_entry(event))

    def on_intent(self, event: IntentHandled) -> None:
        """Subscriber of the intent API: every intent and cancel with its verdict."""
        self.record(intent_entry(event))

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
        self.record(actor_entry(at, actor, command, obj, result=result, reason=reason))

    def record(self, entry: AuditEntry) -> None:
        """Append `entry`, or only count it: a refusal within its peer's window.

        A failing store is logged with the entry, never raised into the caller.
        """
        if entry.result == "accepted" or not self._folded_away(entry):
            self._append(entry)

    def _folded_away(self, refusal: AuditEntry) -> bool:
        """Whether `refusal` is only counted into its peer's fold (else it is to be written)."""
        at = datetime.fromisoformat(refusal.time).timestamp()
        key = (refusal.protocol, refusal.peer, refusal.actor, refusal.result)
        fold = self._folds.get(key)
        if fold is not None and at - fold.since < self._fold_window_s:
            if fold.written < FOLD_AFTER:
                fold.written += 1
                return False
            fold.count, fold.last = fold.count + 1, refusal
            self._folded.inc()
            return True
        if fold is not None:
            self._unfold(key, fold)
        elif len(self._folds) >= MAX_FOLDING:
            for other, pending in list(self._folds.items()):
                self._unfold(other, pending)
        self._folds[key] = _Fold(at)
        return False

    def _unfold(self, key: tuple[str, str, str, str], fold: _Fold) -> None:
        del self._folds[key]
        if fold.last is not None:
            since = iso_time(fold.since)
            why = f"{fold.count} refusals like this folded since {since}; the last: {fold.last.reason}"
            self._append(replace(fold.last, reason=why))  # at the last one's time

    def _append(self, entry: AuditEntry) -> None:
        fields = {**asdict(entry), "old": json.loads(entry.old), "new": json.loads(entry.new)}
        if self._gap is not None and not self._close_gap(datetime.fromisoformat(entry.time).timestamp()):
            self._lose(entry, self._gap.error, fields)
            return
        try:
            row = self._store.append(entry)
        except AuditError as exc:
            self._lose(entry, str(exc), fields)
            return
        log.info("audit", seq=row.seq, hash=row.hash, **fields)
        self.last_by_actor[entry.actor or entry.protocol] = row
        self._set_anchor()
        if row.seq % HEAD_EVERY == 0:
            log.info("audit head", seq=row.seq, mac=row.hash)

    def _lose(self, entry: AuditEntry, error: str, fields: dict[str, object]) -> None:
        gap = self._gap
        self._gap = _Gap(gap.first if gap else entry.time, entry.time, gap.count + 1 if gap else 1, error)
        self._lost.inc()
        log.error("audit store failed; entry only in this log", error=error, **fields)

    def _close_gap(self, now: float) -> bool:
        """Chain the pending gap's row; whether the store took it."""
        gap = self._gap
        assert gap is not None  # only called with a gap pending
        reason = f"{gap.count} entries lost from {gap.first} to {gap.last} (see the log): {gap.error}"
        try:
            row = self._store.append(_own_entry(now, "gap", reason))
        except AuditError:
            return False
        self._gap = None
        log.warning("audit gap recorded", seq=row.seq, hash=row.hash, lost=gap.count)
        self._set_anchor()
        return True

    def _set_anchor(self) -> None:
        """Anchor the head `ANCHOR_AFTER_S` after the first entry of a burst.

        The anchor may lag the database by that much (a start then finds the trail longer, which is fine),
        never run ahead of it.
        """
        self._anchoring.ask()

    def _write_anchor(self) -> None:
        try:
            self._anchor.write(self._store.head)
        except OSError as exc:
            log.error("audit anchor not written", path=str(self._anchor.path), error=str(exc))  # noqa: TRY400

    def _prune(self, now: float) -> None:
        self._pruned_at = time.monotonic()
        if self._retention_days is None:
            return
        try:
            removed = self._store.prune(iso_time(now - self._retention_days * _DAY_S))
        except AuditError as exc:
            log.error("audit retention failed", error=str(exc))  # noqa: TRY400 - the message says it all
            return
        if removed:
            checkpoint = self._store.checkpoint
            log.info("audit retention", removed=removed, checkpoint=f"{checkpoint.seq}:{checkpoint.mac}")
