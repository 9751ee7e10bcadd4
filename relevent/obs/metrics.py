"""Prometheus metrics of the scheduler core, fed by its events."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from relevent.obs.audit import result_label
from relevent.refs import owner_of
from relevent.scheduler.events import AttributeChanged, CommandHandled, Event, OutputChanged

# Output events of entry boundaries are due within milliseconds; the buckets resolve that range.
_LATENESS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0)


class SchedulerMetrics:
    """Schedule states, controller outputs, output lateness and command verdicts."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.schedule_state = Gauge(
            "relevent_schedule_state", "SchdSt: 1 not ready, 3 ready, 4 running", ["schedule"],
            registry=registry,
        )
        self.output_value = Gauge(
            "relevent_controller_output", "the controller's output value (NaN: no value)", ["controller"],
            registry=registry,
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
            value = float("nan") if event.value is None else float(event.value)
            self.output_value.labels(event.controller).set(value)
            prio = float("nan") if event.priority is None else float(event.priority)
            self.output_priority.labels(event.controller).set(prio)
        elif isinstance(event, CommandHandled):
            self.commands.labels(event.actor.protocol, event.command, result_label(event)).inc()
        elif (isinstance(event, AttributeChanged) and event.ref.endswith(".SchdSt.stVal")
              and isinstance(event.value, int)):
            self.schedule_state.labels(owner_of(event.ref)).set(event.value)
