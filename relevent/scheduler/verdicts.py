"""What a non-MMS adapter hands the core (an `Intent`) and what it gets back (a `Verdict`), typed.

See `intents.py` for how an intent becomes schedules and `docs/architecture.md` ("Writing an adapter").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from relevent.scheduler.commands import NOW, Actor, Now, Rejected
from relevent.scheduler.values import ScheduleValue, Timestamp

__all__ = [  # NOW and Actor re-exported: an adapter needs nothing else from the core's modules
    "NOW",
    "UNTIL_CHANGED",
    "Actor",
    "ActorSlots",
    "Cancelled",
    "Intent",
    "IntentFunction",
    "IntentHandled",
    "Placed",
    "RefusalReason",
    "Refused",
    "Verdict",
]  # fmt: skip

UNTIL_CHANGED = None
"""An `Intent.interval_s` of "until changed" (an IEC 104 setpoint): one entry held for the actor's hold."""


class IntentFunction(Enum):
    """What an intent steers; a controller's function is the prefix of its LN name (`MaxPow_FSCC1`)."""

    ACT_POW = "ActPow"  # absolute active power
    MAX_POW = "MaxPow"  # maximum active power
    ON_OFF = "OnOff"  # connect (True) / disconnect (False)


@dataclass(frozen=True)
class Intent:
    """A schedule an actor asks for, in the units of the target's output (kW in the reference model).

    `target` is a controller (`@Control/MaxPow_FSCC1`) or a configured device id (its binding of
    `function`); `key` is the adapter's stable id (an IOA, a request id): a later intent with the same key
    replaces this one. `rel_priority`: larger is more important, within the actor's band. `test`: checked
    and placed on paper, never actuated (OpenADR test events).
    """

    actor: Actor
    key: str
    target: str
    function: IntentFunction
    start: Timestamp | Now
    interval_s: float | None
    values: tuple[ScheduleValue, ...]
    rel_priority: int = 0
    test: bool = False


@dataclass(frozen=True)
class ActorSlots:
    """An actor's share of the core (`[[actors]]` `band` and `slots`).

    `slots` are full schedule references in the order a chain fills them; `hold_s` is how long an "until
    changed" intent holds (None: the longest interval `SchdIntv` holds).
    """

    band: tuple[int, int]
    slots: tuple[str, ...]
    hold_s: float | None = None

    def priority(self, rel_priority: int) -> int:
        """`SchdPrio` of a relative priority: the band's bottom plus it, clamped to the band."""
        low, high = self.band
        return low + max(0, min(rel_priority, high - low))


class RefusalReason(Enum):
    """Why an intent was refused."""

    ACTOR_NOT_ALLOWED = "actor_not_allowed"  # no slots configured, or the policy denies it
    UNKNOWN_TARGET = "unknown_target"  # no such controller or device binding for the function
    OUT_OF_RANGE = "out_of_range"  # values or interval that the target's schedules cannot hold
    NO_FREE_SLOT = "no_free_slot"  # every slot of the set holds another live intent
    TOO_LONG = "too_long"  # more values than the whole slot set holds
    INVALID = "invalid"  # the schedule would not validate (`schd_ena_err` says why)
    UNAVAILABLE = "unavailable"  # the scheduler is not started, or its store failed


@dataclass(frozen=True)
class Placed:
    """The intent runs (or waits for its start) in `slots` (the first is `slot`) at `priority`."""

    slot: str
    priority: int
    slots: tuple[str, ...]


@dataclass(frozen=True)
class Cancelled:
    """The intent's schedules were disabled and its key forgotten (`slots` is empty for an unknown key)."""

    slots: tuple[str, ...]


@dataclass(frozen=True)
class Refused:
    """Nothing changed. `rejected` is the engine's answer when the engine refused the step."""

    reason: RefusalReason
    message: str
    schd_ena_err: int | None = None
    rejected: Rejected | None = None


Verdict: TypeAlias = Placed | Cancelled | Refused


@dataclass(frozen=True)
class IntentHandled:
    """An intent or a cancel was answered: for the audit trail (`command` is "intent" or "cancel").

    `asked` is the intent (None for a cancel): its row is the audit's only record of the schedules the
    placement programmed.
    """

    command: str
    actor: Actor
    key: str
    target: str
    verdict: Verdict
    timestamp: Timestamp
    asked: Intent | None = None
