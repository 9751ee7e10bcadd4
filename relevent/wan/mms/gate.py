"""The seam between the MMS server and whoever decides (the scheduler): what may be written and operated.

The server calls a `Gate` synchronously on the event-loop thread, from inside libiec61850's request
handling, so a gate must answer at once from its current state (no I/O, no awaiting). Codes are the
IEC 61850-8-1 / libiec61850 numbers, so a verdict reaches the client unchanged; this module does not
import the binding. `Actor` is the core's: who asked travels with every command into the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Protocol, TypeAlias

from relevent.scheduler.commands import Actor

WriteValue: TypeAlias = bool | int | float | str | bytes | datetime
"""A written leaf attribute: BOOLEAN -> bool, INT*/Enum -> int, FLOAT* -> float, strings -> str,
Timestamp -> aware UTC datetime, octet strings -> bytes, bit strings (Quality, Check) -> int."""

ControlValue: TypeAlias = bool | int | float
"""A control value: SPC -> bool, INC/ENC -> int, APC -> float (its AnalogueValue's `f`, else `i`)."""


class Verdict(IntEnum):
    """The answer to a write or an operate; the values are MMS DataAccessError codes."""

    SUCCESS = -1
    HARDWARE_FAULT = 1
    TEMPORARILY_UNAVAILABLE = 2
    OBJECT_ACCESS_DENIED = 3
    OBJECT_UNDEFINED = 4
    TYPE_UNSUPPORTED = 6
    TYPE_INCONSISTENT = 7
    OBJECT_ATTRIBUTE_INCONSISTENT = 8
    OBJECT_ACCESS_UNSUPPORTED = 9
    OBJECT_NON_EXISTENT = 10
    OBJECT_VALUE_INVALID = 11


class AddCause(IntEnum):
    """The AddCause of a negative control response (IEC 61850-7-2), as SCADA sees it in LastApplError."""

    UNKNOWN = 0
    NOT_SUPPORTED = 1
    BLOCKED_BY_SWITCHING_HIERARCHY = 2
    SELECT_FAILED = 3
    INVALID_POSITION = 4
    POSITION_REACHED = 5
    PARAMETER_CHANGE_IN_EXECUTION = 6
    STEP_LIMIT = 7
    BLOCKED_BY_MODE = 8
    BLOCKED_BY_PROCESS = 9
    BLOCKED_BY_INTERLOCKING = 10
    BLOCKED_BY_SYNCHROCHECK = 11
    COMMAND_ALREADY_IN_EXECUTION = 12
    BLOCKED_BY_HEALTH = 13
    ONE_OF_N_CONTROL = 14
    ABORTION_BY_CANCEL = 15
    TIME_LIMIT_OVER = 16
    ABORTION_BY_TRIP = 17
    OBJECT_NOT_SELECTED = 18
    OBJECT_ALREADY_SELECTED = 19
    NO_ACCESS_AUTHORITY = 20
    ENDED_WITH_OVERSHOOT = 21
    ABORTION_DUE_TO_DEVIATION = 22
    ABORTION_BY_COMMUNICATION_LOSS = 23
    ABORTION_BY_COMMAND = 24
    NONE = 25
    INCONSISTENT_PARAMETERS = 26
    LOCKED_BY_OTHER_CLIENT = 27


@dataclass(frozen=True, slots=True)
class ControlVerdict:
    """The answer to an operate: a verdict and, when negative, the AddCause sent with it."""

    verdict: Verdict
    add_cause: AddCause = AddCause.UNKNOWN

    @property
    def accepted(self) -> bool:
        """True when the operate goes ahead."""
        return self.verdict is Verdict.SUCCESS


ACCEPTED = ControlVerdict(Verdict.SUCCESS, AddCause.NONE)


class Gate(Protocol):
    """What the MMS server asks before a client changes anything. All methods run on the loop thread."""

    def writable_refs(self) -> Iterable[str]:
        """Full references of the FC SP leaf attributes the gate decides on; writes to others are denied."""
        ...

    def write(self, ref: str, value: WriteValue, actor: Actor) -> Verdict:
        """Decide (and on SUCCESS apply) a write of one attribute; the server stores accepted values."""
        ...

    def operate(self, ref: str, ctl_val: ControlValue, test: bool, actor: Actor) -> ControlVerdict:
        """Decide (and when accepted, carry out) an operate of the controllable DO at `ref`."""
        ...
