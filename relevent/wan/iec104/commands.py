"""A 104 command -> what the core is asked (an intent, or the cancel of one), checked before it is asked."""

from __future__ import annotations

from dataclasses import dataclass

from relevent.scheduler.commands import Actor
from relevent.scheduler.verdicts import NOW, UNTIL_CHANGED, Intent, IntentFunction
from relevent.wan.iec104.config import Iec104Point, Iec104Section


@dataclass(frozen=True)
class ScadaCommand:
    """What SCADA sent: a point's new value, its originator address and time tag (epoch s, or None)."""

    point: Iec104Point
    value: float | bool
    originator: int
    time_tag: float | None = None


@dataclass(frozen=True)
class Cancel:
    """Release: end the actor's intent on the point's target."""

    actor: Actor
    key: str


def key(point: Iec104Point) -> str:
    """The intent's key: one per target and function.

    A repeated setpoint replaces the last one (104's "latest wins"), and a release point finds it.
    """
    return f"iec104:{point.target}:{point.function}"


def request(
    section: Iec104Section, actor: Actor, command: ScadaCommand, now: float
) -> Intent | Cancel | str:
    """The intent (or cancel) the command asks for, or why it is refused before the core is asked."""
    point = command.point
    if section.allowed_originators and command.originator not in section.allowed_originators:
        return f"originator {command.originator} is not allowed"
    if command.time_tag is not None and now - command.time_tag > section.max_cmd_age_s:
        return f"time tag {now - command.time_tag:.1f} s old, more than {section.max_cmd_age_s:g} s"
    if point.release:
        if command.value is not True:
            return "a release point takes ON only"
        return Cancel(actor, key(point))
    assert point.function is not None  # every command point has one (config)
    value = command.value
    if isinstance(value, float) and (
        (point.min is not None and value < point.min) or (point.max is not None and value > point.max)
    ):
        return f"{value:g} {point.units} is outside [{point.min}, {point.max}]".replace("  ", " ")
    function = IntentFunction(point.function)
    return Intent(actor, key(point), point.target, function, NOW, UNTIL_CHANGED, (value,))
