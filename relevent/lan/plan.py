"""A device's plan: the forecasts of its controllers merged into one list of field changes."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import structlog

from relevent.lan.driver import CommandField, DeviceFields
from relevent.lan.fields import device_fields
from relevent.lan.registry import Device
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.values import ScheduleValue, Timestamp

log = structlog.get_logger(__name__)

PlanSteps = tuple[tuple[Timestamp, DeviceFields], ...]


class ForecastSource(Protocol):
    """The scheduler's forecast of one controller's output over [t0, t1] (epoch seconds)."""

    def forecast(self, controller_ref: str, t0: Timestamp, t1: Timestamp) -> Sequence[ForecastPoint]:
        """Change points in time order, the value in force at t0 first."""
        ...


async def forecast_all(
    source: ForecastSource, controllers: Iterable[str], start: Timestamp, end: Timestamp
) -> dict[str, Sequence[ForecastPoint]] | None:
    """Each controller's forecast over [start, end] (None if one fails).

    One controller at a time, the loop turning in between: a large site's forecasts, computed in one go,
    held the next entry boundary's device commands back (docs/performance.md).
    """
    forecasts: dict[str, Sequence[ForecastPoint]] = {}
    for ref in controllers:
        await asyncio.sleep(0)
        try:
            forecasts[ref] = source.forecast(ref, start, end)
        except Exception:  # a failing forecast must not stop the commands; the last plans stay
            log.exception("forecast failed", controller=ref)
            return None
    return forecasts


def plan_steps(device: Device, forecasts: Mapping[str, Sequence[ForecastPoint]]) -> PlanSteps:
    """(start, fields) at every instant a bound controller changes; equal consecutive fields merged.

    `forecasts` holds each controller's change points by full reference, in time order. Each forecast
    starts when it was computed, a little later for each controller: the plan starts at the latest of
    these starts, so that its first entry holds the value of every controller that has one.
    """
    per_field = {name: forecasts.get(ref, ()) for name, ref in device.bindings.items()}
    start = max((points[0].time for points in per_field.values() if points), default=None)
    if start is None:
        return ()
    later = {point.time for points in per_field.values() for point in points if point.time > start}
    times = [start, *sorted(later)]
    steps: list[tuple[Timestamp, DeviceFields]] = []
    for t in times:
        values: dict[CommandField, ScheduleValue | None] = {}
        for name, points in per_field.items():
            i = bisect.bisect_right(points, t, key=lambda p: p.time) - 1
            values[name] = points[i].value if i >= 0 else None
        fields = device_fields(device, values)
        if not steps or steps[-1][1] != fields:
            steps.append((t, fields))
    return tuple(steps)


def plan_key(steps: PlanSteps) -> object:
    """What makes two plans different: the start of the first step moves with the clock and does not count."""
    return (steps[0][1], steps[1:]) if steps else ()
