"""The device layer: one intent per device and output change, to the driver of the device's protocol."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
from prometheus_client import CollectorRegistry

from relevent.errors import ConfigError
from relevent.lan.driver import (
    DeviceFields,
    DeviceHealth,
    DeviceIntent,
    DevicePlan,
    DeviceReports,
    FieldSource,
    HealthReport,
    MeterReading,
)
from relevent.lan.layer import DeviceLayer, DeviceTiming
from relevent.lan.registry import Device, DeviceRegistry
from relevent.lan.sinks import DeviceMeasurement
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.values import ScheduleValue, Timestamp
from tests.mqtt.conftest import Recorder

ACT = "LD/ActPow_FSCC1"
MAX = "LD/MaxPow_FSCC1"
ONOFF = "LD/OnOff_FSCC1"
TIMING = DeviceTiming(heartbeat_s=30.0, validity_s=60.0, plan_horizon_s=3600.0, plan_refresh_s=60.0)
WAIT_S = 10.0


class Recording:
    """A driver that keeps what it is handed (a real driver carries it to its devices)."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.intents: list[DeviceIntent] = []
        self.plans: list[DevicePlan] = []
        self._handed = asyncio.Event()

    def apply(self, intent: DeviceIntent) -> None:
        self.intents.append(intent)
        self._handed.set()

    def apply_plan(self, plan: DevicePlan) -> None:
        self.plans.append(plan)
        self._handed.set()

    async def run(self, reports: DeviceReports) -> None:  # noqa: ARG002 - it has no devices to report on
        await asyncio.Event().wait()

    async def until(self, handed: Callable[[], bool]) -> None:
        """Wait until what was handed over satisfies `handed`."""
        async with asyncio.timeout(WAIT_S):
            while not handed():
                self._handed.clear()
                await self._handed.wait()


class Forecasts:
    """A scheduler's forecasts: fixed change points per controller; `asked` is set at each question."""

    def __init__(self, points: dict[str, list[ForecastPoint]]) -> None:
        self.points = points
        self.asked = asyncio.Event()

    def forecast(self, controller_ref: str, t0: Timestamp, t1: Timestamp) -> Sequence[ForecastPoint]:  # noqa: ARG002
        self.asked.set()
        return self.points.get(controller_ref, [])


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def registry() -> DeviceRegistry:
    return DeviceRegistry.of([
        Device("bat1", "battery", {"w_set": ACT, "on": ONOFF}, w_min=-5000.0, w_max=4000.0,
               mmxu_ref="LD/MMXU1", scales={"w_set": 1000.0}),
        Device("pv1", "pv_inverter", {"w_max_lim": MAX}, scales={"w_max_lim": 1000.0}, protocol="sunspec"),
    ])  # fmt: skip


def output(controller: str, value: ScheduleValue | None, prio: int = 20) -> OutputChanged:
    source = controller.replace("FSCC1", "FSCH01")
    return OutputChanged(controller, value, source if value is not None else None,
                         prio if value is not None else None, 0.0)  # fmt: skip


def make_layer(
    clock: Clock, *, reserves: dict[str, ScheduleValue] | None = None, **seams: object
) -> tuple[DeviceLayer, Recording, Recording, CollectorRegistry]:
    mqtt, sunspec = Recording("mqtt"), Recording("sunspec")
    metrics = CollectorRegistry()
    layer = DeviceLayer(
        registry(), {"mqtt": mqtt, "sunspec": sunspec}, TIMING, metrics_registry=metrics,
        reserves=None if reserves is None else reserves.get, clock=clock, **seams,  # type: ignore[arg-type]
    )  # fmt: skip
    return layer, mqtt, sunspec, metrics


@asynccontextmanager
async def running(layer: DeviceLayer) -> AsyncIterator[None]:
    task = asyncio.create_task(layer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_an_output_change_hands_each_follower_one_whole_intent_through_its_own_driver() -> None:
    clock = Clock()
    layer, mqtt, sunspec, metrics = make_layer(clock, reserves={ACT: 0.5, MAX: 3.0, ONOFF: True})
    layer.on_output(output(ACT, 7.0))  # kW: clamped to the battery's 4000 W
    layer.on_output(output(ONOFF, False, prio=30))
    assert sunspec.intents == []  # the inverter follows neither controller
    first, second = mqtt.intents
    assert (first.seq, second.seq) == (0, 1)
    assert second == DeviceIntent(
        "bat1", 1, clock.now, clock.now + TIMING.validity_s, DeviceFields(w_set=4000.0, on=False),
        {"w_set": FieldSource("LD/ActPow_FSCH01", 20), "on": FieldSource("LD/OnOff_FSCH01", 30)},
        DeviceFields(w_set=500.0, on=True),
    )  # fmt: skip
    layer.on_output(output(MAX, 2.5))
    [pv] = sunspec.intents
    assert (pv.device_id, pv.fields) == ("pv1", DeviceFields(w_max_lim=2500.0))
    assert pv.fallback == DeviceFields(w_max_lim=3000.0)
    assert metrics.get_sample_value(
        "relevent_device_setpoint_watts", {"device": "pv1", "protocol": "sunspec", "field": "w_max_lim"}
    ) == 2500.0  # fmt: skip
    assert metrics.get_sample_value("relevent_device_on", {"device": "bat1", "protocol": "mqtt"}) == 0.0


def test_without_a_driver_for_a_protocol_the_layer_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="no driver for protocol sunspec"):
        DeviceLayer(registry(), {"mqtt": Recording("mqtt")}, TIMING, metrics_registry=CollectorRegistry())


async def test_every_device_gets_an_intent_at_start_and_a_fresh_lease_every_heartbeat() -> None:
    clock = Clock()
    mqtt, sunspec = Recording("mqtt"), Recording("sunspec")
    timing = DeviceTiming(heartbeat_s=0.05, validity_s=0.1, plan_horizon_s=60.0, plan_refresh_s=60.0)
    layer = DeviceLayer(registry(), {"mqtt": mqtt, "sunspec": sunspec}, timing,
                        metrics_registry=CollectorRegistry(), clock=clock)  # fmt: skip
    layer.on_output(output(MAX, 1.0))
    async with running(layer):
        await mqtt.until(lambda: len(mqtt.intents) == 1)
        assert mqtt.intents[0].fields == DeviceFields()  # nothing bound has a value: all None
        clock.now += 1.0
        await sunspec.until(lambda: len(sunspec.intents) == 2)
    renewed = sunspec.intents[-1]
    assert renewed.fields == sunspec.intents[0].fields == DeviceFields(w_max_lim=1000.0)
    assert renewed.seq > sunspec.intents[0].seq
    assert renewed.valid_until == clock.now + timing.validity_s


async def test_plans_go_to_the_driver_when_they_change_and_only_then() -> None:
    clock = Clock(1000.0)
    points = {MAX: [ForecastPoint(1000.0, 2.0, "LD/MaxPow_FSCH01", 20), ForecastPoint(1600.0, 1.0, None, 0)]}
    forecasts = Forecasts(points)
    layer, _, sunspec, _ = make_layer(clock, forecasts=forecasts)
    async with running(layer):
        await sunspec.until(lambda: len(sunspec.plans) == 1)
        steps = sunspec.plans[0].steps
        assert steps == ((1000.0, DeviceFields(w_max_lim=2000.0)), (1600.0, DeviceFields(w_max_lim=1000.0)))
        points[MAX][0] = ForecastPoint(1010.0, 2.0, "LD/MaxPow_FSCH01", 20)  # the same plan, started later
        forecasts.asked.clear()
        layer.refresh_plans()
        await asyncio.wait_for(forecasts.asked.wait(), WAIT_S)
        for _ in range(5):  # the controllers' forecasts are asked one loop turn apart
            await asyncio.sleep(0)
        assert len(sunspec.plans) == 1
        points[MAX][1] = ForecastPoint(1600.0, 0.5, None, 0)
        layer.refresh_plans()
        await sunspec.until(lambda: len(sunspec.plans) == 2)
    assert sunspec.plans[-1].steps[-1] == (1600.0, DeviceFields(w_max_lim=500.0))
    assert len(sunspec.plans) == 2


def test_health_changes_are_kept_counted_and_passed_on() -> None:
    sinks = Recorder()
    layer, _, _, metrics = make_layer(Clock(), health=sinks)
    for health in ("applied", "clamped", "unreachable", "unreachable", "rejected", "applied"):
        layer.on_health(HealthReport("pv1", DeviceHealth(health), detail="r"))
    layer.on_health(HealthReport("ghost", DeviceHealth.REJECTED))  # logged, ignored
    changes = ("applied", "clamped", "unreachable", "rejected", "applied")  # every change, once
    assert sinks.health == [("pv1", DeviceHealth(h)) for h in changes]
    assert layer.health("pv1") is DeviceHealth.APPLIED
    labels = {"device": "pv1", "protocol": "sunspec"}
    assert metrics.get_sample_value("relevent_device_health", {**labels, "health": "applied"}) == 1.0
    assert metrics.get_sample_value("relevent_device_health", {**labels, "health": "rejected"}) == 0.0
    assert metrics.get_sample_value("relevent_device_healthy", labels) == 1.0


def test_measurements_reach_the_mirror_the_metrics_and_the_status_with_their_age() -> None:
    clock, sinks = Clock(), Recorder()
    layer, _, _, metrics = make_layer(clock, measurements=sinks)
    layer.on_measurement(MeterReading("bat1", clock.now - 1, -1200.0, soc_pct=55.0))
    layer.on_measurement(MeterReading("ghost", clock.now, 1.0))
    assert sinks.measurements == [DeviceMeasurement("bat1", "LD/MMXU1", clock.now - 1, -1200.0, None, 55.0)]
    labels = {"device": "bat1", "protocol": "mqtt"}
    assert metrics.get_sample_value("relevent_device_power_watts", labels) == -1200.0
    clock.now += TIMING.validity_s + 1
    layer.on_output(output(ACT, 1.0))
    bat1, pv1 = layer.device_status()
    assert (bat1["protocol"], bat1["measurement"]["w"], bat1["stale"]) == ("mqtt", -1200.0, ["measurement"])
    assert (bat1["intent"]["w_set"], bat1["age_s"]["intent"]) == (1000.0, 0.0)
    assert (pv1["protocol"], pv1["health"]) == ("sunspec", "unknown")
    assert (pv1["intent"], pv1["measurement"]) == (None, None)
