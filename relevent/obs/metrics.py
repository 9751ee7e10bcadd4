"""Prometheus metrics of the scheduler core, fed by its events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from relevent.obs.audit import result_label
from relevent.refs import owner_of
from relevent.scheduler.events import AttributeChanged, CommandHandled, Event, OutputChanged
from relevent.scheduler.spec import ControllerSpec
from relevent.scheduler.values import ValueType

# Output events of entry boundaries are due within milliseconds; the buckets resolve that range.
_LATENESS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0)


class SchedulerMetrics:
    """Schedule states, controller outputs, output lateness and command verdicts."""

    def __init__(
        self,
        registry: CollectorRegistry,
        controllers: Iterable[ControllerSpec],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        # Per controller the factor of its output to W; None for an on/off controller.
        self._to_w = {c.ref: None if c.value_type is ValueType.BOOL else c.to_si for c in controllers}
        self.schedule_state = Gauge(
            "relevent_schedule_state", "SchdSt: 1 not ready, 3 ready, 4 running", ["schedule"],
            registry=registry,
        )
        self.output_watts = Gauge(
            "relevent_controller_output_watts", "a power controller's output in W (NaN: no value)",
            ["controller"], registry=registry,
        )
        self.output_on = Gauge(
            "relevent_controller_on", "an on/off controller's output: 1 on, 0 off (NaN: no value)",
            ["controller"], registry=registry,
        )
        self.output_priority = Gauge(
            "relevent_controller_output_priority", "priority of the active schedule (NaN: none)",
            ["controller"], registry=registry,
        )
        self.lateness = Histogram(
            "relevent_output_lateness_seconds", "output event emitted minus its nominal time",
            buckets=_LATENESS_BUCKETS, registry=registry,
        )
        self.commands = Counter(
            "relevent_commands_total", "scheduler commands by protocol, kind and verdict",
            ["protocol", "command", "result"], registry=registry,
        )

    def on_event(self, event: Event) -> None:
        """Subscriber of the engine's events."""
        if isinstance(event, OutputChanged):
            self.lateness.observe(max(0.0, self._clock() - event.timestamp))
            to_w = self._to_w.get(event.controller, 1.0)
            value = float("nan") if event.value is None else float(event.value) * (to_w or 1.0)
            (self.output_on if to_w is None else self.output_watts).labels(event.controller).set(value)
            prio = float("nan") if event.priority is None else float(event.priority)
            self.output_priority.labels(event.controller).set(prio)
        elif isinstance(event, CommandHandled):
            self.commands.labels(event.actor.protocol, event.command, result_label(event)).inc()
        elif (isinstance(event, AttributeChanged) and event.ref.endswith(".SchdSt.stVal")
              and isinstance(event.value, int)):
            self.schedule_state.labels(owner_of(event.ref)).set(event.value)
