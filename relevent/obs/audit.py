"""The audit trail: every accepted and rejected change with its actor, object, old and new value."""

from __future__ import annotations

import structlog

from relevent.scheduler.commands import Rejected
from relevent.scheduler.events import AttributeData, CommandHandled, Event

log = structlog.get_logger("relevent.audit")


def result_label(event: CommandHandled) -> str:
    """`accepted`, or the rejection reason (`access_denied`, `value_invalid`, ...)."""
    return event.result.reason.value if isinstance(event.result, Rejected) else "accepted"


def _plain(value: AttributeData | None) -> object:
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


class AuditLog:
    """Writes one `audit` log line per command the scheduler answered."""

    def on_event(self, event: Event) -> None:
        """Subscriber of the engine's events; only command answers are audited."""
        if not isinstance(event, CommandHandled):
            return
        rejected = event.result if isinstance(event.result, Rejected) else None
        log.info(
            "audit",
            command=event.command,
            object=event.ref,
            protocol=event.actor.protocol,
            peer=event.actor.peer,
            user=event.actor.user,
            old=_plain(event.old),
            new=_plain(event.new),
            result=result_label(event),
            why=rejected.message if rejected else None,
            schd_ena_err=rejected.schd_ena_err if rejected else None,
            at=event.timestamp,
        )
