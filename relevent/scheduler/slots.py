"""Typed access to the schedules for adapters: no attribute references outside the core.

States, controller outputs (with their source and priority), a subscription to their changes (the engine's
event stream, typed), and the switching of a schedule that the operator programmed (local triggers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from relevent.refs import full_ref
from relevent.scheduler.commands import Actor, CommandResult, Rejected
from relevent.scheduler.controller import ControllerOutput
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, Event, OutputChanged
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.values import Timestamp

_STATE = ".SchdSt.stVal"


@dataclass(frozen=True)
class StateChanged:
    """A schedule's `SchdSt` changed (`schedule` is its full reference)."""

    schedule: str
    state: SchdSt
    timestamp: Timestamp


Change: TypeAlias = OutputChanged | StateChanged
ChangeSubscriber: TypeAlias = Callable[[Change], None]


class Slots:
    """Reads and switches the engine's schedules by their references (either form), typed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def state(self, schedule: str) -> SchdSt | None:
        """The schedule's state (None: no such schedule, or the engine is not started)."""
        state = self._engine.read(f"{self._full(schedule)}{_STATE}")
        if isinstance(state, Rejected) or not isinstance(state.value, int):
            return None
        return SchdSt(state.value)

    def output(self, controller: str) -> ControllerOutput | None:
        """The controller's output: value, source schedule and its priority (None: no such controller)."""
        return self._engine.output(controller)

    def subscribe(self, callback: ChangeSubscriber) -> Callable[[], None]:
        """Call `callback` (on the loop) with every output and schedule state change; return unsubscribe."""

        def typed(event: Event) -> None:
            if isinstance(event, OutputChanged):
                callback(event)
            elif isinstance(event, AttributeChanged) and event.ref.endswith(_STATE):
                assert isinstance(event.value, int)
                callback(StateChanged(event.ref.removesuffix(_STATE), SchdSt(event.value), event.timestamp))

        return self._engine.subscribe(typed)

    def start_now(self, schedule: str, now: Timestamp, actor: Actor) -> CommandResult:
        """Enable a programmed schedule so that it runs from the current whole second (joined at entry 1).

        A periodic first start time (`setCal`) is left as programmed: then the schedule is only enabled.
        """
        full = self._full(schedule)
        spec = next(s for s in self._engine.model.schedules if s.ref == full)
        first = spec.start_times[0]
        if not first.periodic:
            result = self._engine.write(f"{full}.{first.name}.setTm", float(math.floor(now)), actor)
            if isinstance(result, Rejected):
                return result
        return self._engine.operate(f"{full}.EnaReq", ctl_val=True, test=False, actor=actor)

    def stop(self, schedule: str, actor: Actor) -> CommandResult:
        """Disable the schedule (`DsaReq`)."""
        return self._engine.operate(f"{self._full(schedule)}.DsaReq", ctl_val=True, test=False, actor=actor)

    def _full(self, ref: str) -> str:
        return full_ref(ref, self._engine.model.ied_name)
