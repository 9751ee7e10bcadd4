"""The schedules and controllers of one model, advanced together through nominal instants."""

from __future__ import annotations

from collections.abc import Iterable

from relevent.scheduler.controller import Controller, ControllerOutput
from relevent.scheduler.schedule import Schedule
from relevent.scheduler.values import Timestamp


class Timeline:
    """All schedule and controller state; pure, so a forecast can run a copy of it ahead of time."""

    def __init__(self, schedules: Iterable[Schedule], controllers: Iterable[Controller]) -> None:
        self.schedules: dict[str, Schedule] = {schedule.ref: schedule for schedule in schedules}
        self.controllers: dict[str, Controller] = {controller.ref: controller for controller in controllers}

    def next_instant(self) -> Timestamp | None:
        """The earliest instant at which any schedule changes."""
        return min(
            (t for schedule in self.schedules.values() if (t := schedule.next_instant) is not None),
            default=None,
        )

    def due(self, t: Timestamp) -> list[Schedule]:
        """The schedules that change at or before `t`."""
        return [s for s in self.schedules.values() if s.next_instant is not None and s.next_instant <= t]

    def affected(self, schedules: Iterable[Schedule], also: Iterable[Controller] = ()) -> list[Controller]:
        """The controllers whose list names any of `schedules` (their output may change), and `also`."""
        refs = {schedule.ref for schedule in schedules}
        named = {controller.ref for controller in also}
        return [
            c for c in self.controllers.values() if c.ref in named or not refs.isdisjoint(c.schedule_refs)
        ]

    def advance_to(self, t: Timestamp) -> None:
        """Apply everything due up to and including `t`."""
        for schedule in self.due(t):
            schedule.advance_to(t)

    def output(self, controller_ref: str) -> ControllerOutput:
        """The resolved output of one controller as of the schedules' current state."""
        return self.controllers[controller_ref].output(self.schedules)

    def copy_for(self, controller_ref: str) -> Timeline:
        """Return an independent copy of one controller and the schedules it references."""
        controller = self.controllers[controller_ref]
        schedules = [self.schedules[ref].clone() for ref in dict.fromkeys(controller.schedule_refs) if ref]
        return Timeline(schedules, [Controller(controller.spec, controller.record())])
