"""A device's plan (`ctl/plan`): the forecasts of its controllers merged into one list of field changes."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

from relevent.lan.driver import CommandField
from relevent.lan.mqtt.device_commands import Fields, device_fields
from relevent.lan.mqtt.payloads import Plan, PlanEntry, utc
from relevent.lan.registry import Device
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.values import ScheduleValue, Timestamp

PlanSteps = tuple[tuple[Timestamp, Fields], ...]


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
    steps: list[tuple[Timestamp, Fields]] = []
    for t in times:
        values: dict[CommandField, ScheduleValue | None] = {}
        for name, points in per_field.items():
            i = bisect.bisect_right(points, t, key=lambda p: p.time) - 1
            values[name] = points[i].value if i >= 0 else None
        fields = device_fields(device, values)
        if not steps or steps[-1][1] != fields:
            steps.append((t, fields))
    return tuple(steps)


def plan_payload(steps: PlanSteps, now: Timestamp) -> Plan:
    """The retained `ctl/plan` message."""
    return Plan(
        ts=utc(now),
        entries=[PlanEntry(start=utc(t), w_set=f.w_set, w_max_lim=f.w_max_lim, on=f.on) for t, f in steps],
    )
