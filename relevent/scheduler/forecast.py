"""Forecast of a controller's output: what the engine will emit if nothing is written meanwhile."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from relevent.scheduler.controller import Controller
from relevent.scheduler.schedule import Schedule
from relevent.scheduler.spec import ControllerSpec, ScheduleSpec
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


def forecast_from_specs(
    controller: ControllerSpec,
    schedules: Iterable[ScheduleSpec],
    enabled: Collection[str],
    now: Timestamp,
    until: Timestamp,
) -> list[ForecastPoint]:
    """Forecast a controller over [now, until] from specs carrying its schedules' current parameters.

    For clients that read the parameters back from a running gateway (`relevent-ctl` over MMS) and build
    specs with them as initial values; the gateway's run state is not needed: each schedule in `enabled`
    is enabled at `now` by the engine's rules, so a run in progress is joined at its current entry. One
    difference to `Engine.forecast`: a value written into the entry in force counts at once (the engine
    applies it at the next boundary).
    """
    built = []
    for spec in schedules:
        schedule = Schedule(spec)
        if spec.ref in enabled:
            schedule.enable(now)
        built.append(schedule)
    return forecast(Timeline(built, [Controller(controller)]), controller.ref, now, until, now)
