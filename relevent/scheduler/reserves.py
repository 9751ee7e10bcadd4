"""What each controller's reserve schedule outputs now: the value its devices fall back to on their own."""

from __future__ import annotations

from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeValue
from relevent.scheduler.values import ScheduleValue


class ReserveValues:
    """Each controller's reserve schedule, by the reference of its output."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        model = engine.model
        reserves = {schedule.ref: schedule for schedule in model.schedules if schedule.reserve}
        self._outputs: dict[str, str] = {}
        for controller in model.controllers:
            reserve = next((reserves[ref] for ref in controller.schedule_refs if ref in reserves), None)
            if reserve is not None:
                do, da = reserve.kind.output
                self._outputs[controller.ref] = f"{reserve.ref}.{do}.{da}"

    def value(self, controller_ref: str) -> ScheduleValue | None:
        """The controller's reserve schedule's current value; None: no reserve, or no valid value."""
        ref = self._outputs.get(controller_ref)
        if ref is None:
            return None
        read = self._engine.read(ref)
        if not isinstance(read, AttributeValue) or not read.quality_good:
            return None
        value = read.value
        return value if isinstance(value, bool | int | float) else None
