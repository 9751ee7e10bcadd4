"""Command results: an acceptance or a typed rejection that an upstream adapter maps 1:1 to its protocol."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from relevent.errors import ReleventError
from relevent.scheduler.values import ScheduleValue, Timestamp


@dataclass(frozen=True)
class Actor:
    """Who sent a command: for the audit log and the policy."""

    protocol: str
    peer: str
    user: str | None = None


class RejectReason(Enum):
    """Why a command was refused; each maps to one MMS DataAccessError / control AddCause."""

    ACCESS_DENIED = "access_denied"  # object-access-denied: locked by policy, or a read-only attribute
    VALUE_INVALID = "value_invalid"  # object-value-invalid
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"  # not started, or the store failed
    OBJECT_UNDEFINED = "object_undefined"  # object-non-existent
    TYPE_CONFLICT = "type_conflict"  # type-inconsistent


@dataclass(frozen=True)
class Program:
    """A whole one-shot schedule that `Engine.program` writes and enables as one command.

    `values` fill the first value slots (`NumEntr` is their number; the later slots keep theirs); `start`
    goes to the first start time and every other start time is cleared, so no earlier run comes back.
    """

    values: tuple[ScheduleValue, ...]
    schd_intv: int
    schd_prio: int
    start: Timestamp


@dataclass(frozen=True)
class Accepted:
    """The command took effect (and was persisted) before it returned."""


@dataclass(frozen=True)
class Rejected:
    """The command changed nothing except, for a failed enable, `SchdEnaErr` (`schd_ena_err`)."""

    reason: RejectReason
    message: str
    schd_ena_err: int | None = None


CommandResult: TypeAlias = Accepted | Rejected
ACCEPTED = Accepted()


class RejectionError(ReleventError):
    """Raised inside the command pipeline; the engine turns it into the `Rejected` it carries."""

    def __init__(self, reason: RejectReason, message: str, schd_ena_err: int | None = None) -> None:
        super().__init__(message)
        self.rejected = Rejected(reason, message, schd_ena_err)
