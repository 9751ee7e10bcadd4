"""Controller outputs -> a device's command fields, in W and clamped to the device's limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from relevent.lan.driver import CommandField, DeviceFields, FieldSource
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


def device_fields(device: Device, values: Mapping[CommandField, ScheduleValue | None]) -> DeviceFields:
    """Typed fields in W, clamped to the device's limits.

    Powers are scaled from the controllers' units (kW in the reference model) to W; `w_set` is clamped
    into [w_min, w_max]; `w_max_lim`, a magnitude, into [0, max(|w_min|, |w_max|)].
    """
    w_set = values.get("w_set")
    w_max_lim = values.get("w_max_lim")
    on = values.get("on")
    magnitudes = [abs(x) for x in (device.w_min, device.w_max) if x is not None]
    return DeviceFields(
        w_set=None if w_set is None else _clamp(_watts(device, "w_set", w_set), device.w_min, device.w_max),
        w_max_lim=None if w_max_lim is None else _clamp(
            _watts(device, "w_max_lim", w_max_lim), 0.0, max(magnitudes, default=None)
        ),
        on=None if on is None else bool(on),
    )


def current_fields(
    device: Device, outputs: Mapping[str, ControllerValue]
) -> tuple[DeviceFields, dict[CommandField, FieldSource]]:
    """The device's fields from the latest output of each bound controller (by full reference).

    With them, the schedule each field comes from.
    """
    bound = {name: out for name, ref in device.bindings.items() if (out := outputs.get(ref)) is not None}
    fields = device_fields(device, {name: out.value for name, out in bound.items()})
    sources = {
        name: FieldSource(out.source, out.priority)
        for name, out in bound.items()
        if getattr(fields, name) is not None and out.source is not None and out.priority is not None
    }
    return fields, sources


def _watts(device: Device, name: CommandField, value: ScheduleValue) -> float:
    # round away the float noise of the scaling (2.83 kW is 2830 W, not 2829.9999237)
    return round(float(value) * device.scale(name), 6)


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value
