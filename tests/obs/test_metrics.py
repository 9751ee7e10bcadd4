"""The scheduler's metrics in base units: a power controller's output in W, an on/off one as 1/0."""

from __future__ import annotations

import math
from dataclasses import replace

from prometheus_client import CollectorRegistry

from relevent.obs.metrics import SchedulerMetrics
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.values import ValueType
from tests.scheduler.factory import controller_spec, ln


def test_outputs_are_in_watts_scaled_by_the_models_units_and_switches_are_on_or_off() -> None:
    registry = CollectorRegistry()
    kw = controller_spec("MaxPow_FSCC1", [])
    kw = replace(kw, to_si=1000.0)  # the reference model's kW
    switch = controller_spec("OnOff_FSCC1", [], value_type=ValueType.BOOL)
    metrics = SchedulerMetrics(registry, [kw, switch], clock=lambda: 10.0)
    metrics.on_event(OutputChanged(kw.ref, 7.5, ln("MaxPow_FSCH01"), 50, 10.0))
    metrics.on_event(OutputChanged(switch.ref, False, ln("OnOff_FSCH01"), 20, 10.0))

    def sample(name: str, ref: str) -> float | None:
        return registry.get_sample_value(name, {"controller": ref})

    assert sample("relevent_controller_output_watts", kw.ref) == 7500.0
    assert sample("relevent_controller_on", switch.ref) == 0.0
    assert sample("relevent_controller_on", kw.ref) is None
    metrics.on_event(OutputChanged(kw.ref, None, None, None, 10.0))  # no value: NaN, not a stale 7.5 kW
    value = sample("relevent_controller_output_watts", kw.ref)
    assert value is not None
    assert math.isnan(value)
