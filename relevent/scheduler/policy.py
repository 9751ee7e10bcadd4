"""The `[[policy]]` section of the gateway configuration: per-schedule locks and per-actor rights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from fnmatch import fnmatchcase

from relevent.scheduler.commands import Actor
from relevent.scheduler.spec import ScheduleSpec


class Lockable(Enum):
    """The parameter groups a policy can lock."""

    VALUES = "values"
    NUM_ENTR = "NumEntr"
    SCHD_INTV = "SchdIntv"
    SCHD_PRIO = "SchdPrio"
    STR_TM = "StrTm"
    SCHD_REUSE = "SchdReuse"


@dataclass(frozen=True)
class SchedulePolicy:
    """Which parameters of one schedule are locked, and whether remote EnaReq/DsaReq are.

    Locks hold for every actor; what one actor may touch at all is `Rights`' question.
    """

    locked: frozenset[Lockable] = frozenset()
    control_locked: bool = False

    def allows_write(self, lockable: Lockable) -> bool:
        """Return whether parameters of group `lockable` may be written remotely."""
        return lockable not in self.locked

    def allows_control(self) -> bool:
        """Return whether EnaReq/DsaReq may be operated remotely."""
        return not self.control_locked


OPEN = SchedulePolicy()
# Spec section 2: reserve schedules keep the controller fed; only their values stay writable.
RESERVE = SchedulePolicy(
    locked=frozenset({Lockable.SCHD_PRIO, Lockable.STR_TM}),
    control_locked=True,
)


def default_policy(spec: ScheduleSpec) -> SchedulePolicy:
    """The policy of a schedule the configuration does not mention."""
    return RESERVE if spec.reserve else OPEN


@dataclass(frozen=True)
class Grant:
    """One rights entry: schedules and controllers (globs over full references), up to a priority."""

    schedules: tuple[str, ...] = ()
    controllers: tuple[str, ...] = ()
    max_priority: int | None = None  # None: any priority


@dataclass(frozen=True)
class Rights:
    """What each named actor may change: an actor named here is limited to its grants (none: read-only).

    Actors not named (anonymous peers when authentication is off, local adapters) are not limited, so a
    configuration without rights entries behaves as before they existed.
    """

    grants: Mapping[str, tuple[Grant, ...]] = field(default_factory=dict)

    def schedule_denial(self, actor: Actor, schedule: str, priority: int | None = None) -> str | None:
        """Why `actor` may not write or enable `schedule` (at `priority`, when it sets one), or None."""
        grants = self._limits(actor)
        if grants is None:
            return None
        covering = [g for g in grants if any(fnmatchcase(schedule, p) for p in g.schedules)]
        if not covering:
            return f"actor {actor.user!r} has no rights on {schedule}"
        if priority is not None and all(g.max_priority is not None and priority > g.max_priority
                                        for g in covering):  # fmt: skip
            return f"actor {actor.user!r} may not use priority {priority} on {schedule}"
        return None

    def controller_denial(self, actor: Actor, controller: str) -> str | None:
        """Why `actor` may not rebind `controller` (its schedule list or CtlEnt), or None."""
        grants = self._limits(actor)
        if grants is None or any(fnmatchcase(controller, p) for g in grants for p in g.controllers):
            return None
        return f"actor {actor.user!r} has no rights on {controller}"

    def _limits(self, actor: Actor) -> tuple[Grant, ...] | None:
        return self.grants.get(actor.user) if actor.user is not None else None


UNRESTRICTED = Rights()
