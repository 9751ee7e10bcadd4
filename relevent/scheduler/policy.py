"""Per-schedule write and control locks (the `[[policy]]` section of the gateway configuration)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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

    The actor is passed to every check so per-actor rights can be added here without touching callers.
    """

    locked: frozenset[Lockable] = frozenset()
    control_locked: bool = False

    def allows_write(self, lockable: Lockable, actor: Actor) -> bool:  # noqa: ARG002 - per-actor rights hook
        """Return whether `actor` may write parameters of group `lockable`."""
        return lockable not in self.locked

    def allows_control(self, actor: Actor) -> bool:  # noqa: ARG002 - per-actor rights hook
        """Return whether `actor` may operate EnaReq/DsaReq."""
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
