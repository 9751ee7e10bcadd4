"""Command results: an acceptance or a typed rejection that an upstream adapter maps 1:1 to its protocol."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from relevent.errors import ReleventError
from relevent.refs import split_owner
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
class Now:
    """Start now: the command's own whole second plus `after_s`, resolved by the engine as it runs it.

    The run is then already in progress and joined at its first entry at once (no `now + epsilon`), and the
    start time reads back as a round number. `after_s` places the later links of a chain.
    """

    after_s: float = 0.0


NOW = Now()


@dataclass(frozen=True)
class Program:
    """A whole one-shot schedule that `Engine.program` writes and enables as one command.

    `values` fill the first value slots (`NumEntr` is their number; the later slots keep theirs); `start`
    goes to the first start time and every other start time is cleared, so no earlier run comes back.
    """

    values: tuple[ScheduleValue, ...]
    schd_intv: int
    schd_prio: int
    start: Timestamp | Now


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


@dataclass(frozen=True)
class Write:
    """A write of one parameter attribute, as `Engine.write` takes it."""

    ref: str
    value: object


@dataclass(frozen=True)
class Operate:
    """An operate of `EnaReq` or `DsaReq`, as `Engine.operate` takes it."""

    ref: str
    ctl_val: bool
    test: bool = False

    @property
    def control(self) -> str:
        """The data object operated: `LD/LN.EnaReq[.Oper]` -> `EnaReq`."""
        return split_owner(self.ref.removesuffix(".Oper"))[1]

    @property
    def enables(self) -> bool:
        """Whether this operate enables its schedule (and so validates it)."""
        return self.ctl_val and not self.test and self.control == "EnaReq"


Step: TypeAlias = Write | Operate
"""One command of a request that `Engine.check` tries out."""


class RejectionError(ReleventError):
    """Raised inside the command pipeline; the engine turns it into the `Rejected` it carries."""

    def __init__(self, reason: RejectReason, message: str, schd_ena_err: int | None = None) -> None:
        super().__init__(message)
        self.rejected = Rejected(reason, message, schd_ena_err)
