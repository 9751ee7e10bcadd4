"""Events the engine emits to adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from relevent.scheduler.commands import Actor, CommandResult
from relevent.scheduler.periodic import CalendarTime
from relevent.scheduler.values import ScheduleValue, Timestamp

AttributeData: TypeAlias = ScheduleValue | str | CalendarTime


@dataclass(frozen=True)
class AttributeValue:
    """An attribute as an adapter mirrors it: value, quality (`q` good or invalid) and time (`t`)."""

    value: AttributeData
    quality_good: bool
    timestamp: Timestamp


@dataclass(frozen=True)
class AttributeChanged:
    """An attribute of the served model changed.

    `ref` is the full DA reference of the value (`.../ActPow_FSCH01.ValMV.mag.f`, `.SchdSt.stVal`,
    `.StrTm01.setCal` as a whole struct); adapters write `q` and `t` of the same DO from `quality_good` and
    `timestamp` where the DO has them.
    """

    ref: str
    value: AttributeData
    quality_good: bool
    timestamp: Timestamp


@dataclass(frozen=True)
class OutputChanged:
    """A controller's output changed; `value` None is "no value" (devices fall back)."""

    controller: str
    value: ScheduleValue | None
    source: str | None
    priority: int | None
    timestamp: Timestamp


@dataclass(frozen=True)
class CommandHandled:
    """A command was answered: who asked what, the value before and after, and the verdict (for the audit).

    `old`/`new` are the written attribute's values, or `SchdSt` for an operate. A rejected write's `new` is
    the value it asked for (the attribute keeps `old`); a rejected operate's `new` equals `old`.
    """

    command: str
    ref: str
    actor: Actor
    old: AttributeData | None
    new: object  # a rejected write's value is whatever the client sent
    result: CommandResult
    timestamp: Timestamp


Event: TypeAlias = AttributeChanged | OutputChanged | CommandHandled
Subscriber: TypeAlias = Callable[[Event], None]
