"""Forecast of a controller's output: what the engine will emit if nothing is written meanwhile."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
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


def output_changes(
    timeline: Timeline, controller_ref: str, start: Timestamp, until: Timestamp
) -> list[ForecastPoint]:
    """Every change of the output (value, source or priority) over [start, until], on a copy of `timeline`.

    `timeline` (as of `start` or earlier) is not modified: the copy runs through the same rules the engine
    applies. Equal values are not merged, so `window` can cut out any later window with the same points a
    forecast computed then would have.
    """
    simulation = timeline.copy_for(controller_ref)
    simulation.advance_to(start)
    output = simulation.output(controller_ref)
    points = [ForecastPoint(start, output.value, output.source, output.priority)]
    while (t := simulation.next_instant()) is not None and t <= until:
        simulation.advance_to(t)
        output = simulation.output(controller_ref)
        last = points[-1]
        if (output.value, output.source, output.priority) != (last.value, last.source, last.priority):
            points.append(ForecastPoint(t, output.value, output.source, output.priority))
    return points


def window(changes: Sequence[ForecastPoint], start: Timestamp, t1: Timestamp) -> list[ForecastPoint]:
    """The forecast over [start, t1] from `output_changes` computed at or before `start`: equal values merged.

    The first point is the output in force at `start`, stamped `start`.
    """
    i = max(0, bisect.bisect_right(changes, start, key=lambda p: p.time) - 1)
    if not changes or t1 < start:
        return []
    first = changes[i]
    points = [ForecastPoint(start, first.value, first.source, first.priority)]
    for point in itertools.islice(changes, i + 1, None):
        if point.time > t1:
            break
        if point.value != points[-1].value:
            points.append(point)
    return points
