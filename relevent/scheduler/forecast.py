"""Forecast of a controller's output: what the engine will emit if nothing is written meanwhile."""

from __future__ import annotations

from dataclasses import dataclass

from relevent.scheduler.timeline import Timeline
from relevent.scheduler.values import ScheduleValue, Timestamp


@dataclass(frozen=True)
class ForecastPoint:
    """From `time` on, the controller outputs `value` (None: no value) from `source` at `priority`."""

    time: Timestamp
    value: ScheduleValue | None
    source: str | None
    priority: int | None


def forecast(
    timeline: Timeline, controller_ref: str, t0: Timestamp, t1: Timestamp, now: Timestamp
) -> list[ForecastPoint]:
    """Return the output of `controller_ref` over [t0, t1] as change points, equal values merged.

    `timeline` (as of `now`) is not modified; the forecast runs a copy through the same rules the engine
    applies. The window starts no earlier than `now`: the past is not replayed.
    """
    simulation = timeline.copy_for(controller_ref)
    start = max(t0, now)
    if t1 < start:
        return []
    simulation.advance_to(start)
    output = simulation.output(controller_ref)
    points = [ForecastPoint(start, output.value, output.source, output.priority)]
    while (t := simulation.next_instant()) is not None and t <= t1:
        simulation.advance_to(t)
        output = simulation.output(controller_ref)
        if output.value != points[-1].value:
            points.append(ForecastPoint(t, output.value, output.source, output.priority))
    return points

