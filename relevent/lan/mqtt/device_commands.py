"""Controller outputs -> the fields of a device's command (`ctl/set`) and of its plan entries."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import uuid4

from relevent.lan.driver import CommandField
from relevent.lan.mqtt.payloads import Command, CommandSources, Source, utc
from relevent.lan.registry import Device
from relevent.scheduler.values import ScheduleValue


class ControllerValue(Protocol):
    """A controller's value and where it comes from: an `OutputChanged` or a `ForecastPoint`."""

    @property
    def value(self) -> ScheduleValue | None:
        """The value; None: no value."""

    @property
    def source(self) -> str | None:
        """The full reference of the schedule the value comes from."""

    @property
    def priority(self) -> int | None:
        """That schedule's priority."""


@dataclass(frozen=True)
class Fields:
    """The command fields of one device; None where the bound controller has no value (or none is bound)."""

    w_set: float | None = None
    w_max_lim: float | None = None
    on: bool | None = None


def device_fields(device: Device, values: Mapping[CommandField, ScheduleValue | None]) -> Fields:
    """Typed fields in W, clamped to the device's limits.

    Powers are scaled from the controllers' units (kW in the reference model) to W; `w_set` is clamped
    into [w_min, w_max]; `w_max_lim`, a magnitude, into [0, max(|w_min|, |w_max|)].
    """
    w_set = values.get("w_set")
    w_max_lim = values.get("w_max_lim")
    on = values.get("on")
    magnitudes = [abs(x) for x in (device.w_min, device.w_max) if x is not None]
    return Fields(
        w_set=None if w_set is None else _clamp(_watts(device, "w_set", w_set), device.w_min, device.w_max),
        w_max_lim=None if w_max_lim is None else _clamp(
            _watts(device, "w_max_lim", w_max_lim), 0.0, max(magnitudes, default=None)
        ),
        on=None if on is None else bool(on),
    )


def _watts(device: Device, name: CommandField, value: ScheduleValue) -> float:
    # round away the float noise of the scaling (2.83 kW is 2830 W, not 2829.9999237)
    return round(float(value) * device.scale(name), 6)


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


class CommandFactory:
    """Builds each device's commands: a fresh id, the device's next `seq`, `valid_until` = now + validity."""

    def __init__(self, validity_s: float, clock: Callable[[], float]) -> None:
        self._validity_s = validity_s
        self._clock = clock
        self._seq: dict[str, itertools.count[int]] = {}

    def build(self, device: Device, outputs: Mapping[str, ControllerValue]) -> Command:
        """The command for `device` from the latest output of each controller (by full reference)."""
        bound = {name: out for name, ref in device.bindings.items() if (out := outputs.get(ref)) is not None}
        fields = device_fields(device, {name: out.value for name, out in bound.items()})
        sources = {
            name: Source(schedule=out.source, prio=out.priority)
            for name, out in bound.items()
            if getattr(fields, name) is not None and out.source is not None and out.priority is not None
        }
        now = self._clock()
        seq = self._seq.setdefault(device.id, itertools.count())
        return Command(
            id=uuid4(),
            seq=next(seq),
            ts=utc(now),
            valid_until=utc(now + self._validity_s),
            w_set=fields.w_set,
            w_max_lim=fields.w_max_lim,
            on=fields.on,
            src=CommandSources(**sources),
        )
