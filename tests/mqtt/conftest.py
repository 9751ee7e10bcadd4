"""The MQTT bridge under test, as the device layer's driver: configuration, registry, sinks.

Brokers come from tests.mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry

from relevent.app import device_timing
from relevent.config import MqttSection
from relevent.lan.driver import DeviceHealth
from relevent.lan.layer import DeviceLayer
from relevent.lan.mqtt.bridge import MqttBridge
from relevent.lan.mqtt.config import MqttBridgeConfig
from relevent.lan.plan import ForecastSource
from relevent.lan.registry import Device, DeviceRegistry
from relevent.lan.sinks import DeviceMeasurement, HealthSink, MeasurementSink
from relevent.scheduler.events import OutputChanged
from tests.mosquitto import TIMEOUT_S, Broker, wait_until

ACT = "DER_Scheduler_Control/ActPow_FSCC1"
MAX = "DER_Scheduler_Control/MaxPow_FSCC1"
ONOFF = "DER_Scheduler_Control/OnOff_FSCC1"


class Recorder:
    """The measurement and health sinks of the composition root, in memory."""

    def __init__(self) -> None:
        self.measurements: list[DeviceMeasurement] = []
        self.health: list[tuple[str, DeviceHealth]] = []

    def on_measurement(self, measurement: DeviceMeasurement) -> None:
        self.measurements.append(measurement)

    def on_health(self, device_id: str, health: DeviceHealth) -> None:
        self.health.append((device_id, health))


def output(controller: str, value: float | bool | None, source: str = "", prio: int = 0) -> OutputChanged:
    """An output event as the scheduler emits it; no value means no source."""
    if value is None:
        return OutputChanged(controller, None, None, None, time.time())
    ref = source or controller.replace("FSCC1", "FSCH01")
    return OutputChanged(controller, value, ref, prio, time.time())


def bridge_config(broker: Broker, *, gateway_id: str = "gw1", **options: Any) -> MqttBridgeConfig:
    """The bridge's configuration: `[mqtt]` with `options`, the broker's URL, reconnecting quickly."""
    mqtt = MqttSection(url=broker.url, reconnect_min_s=0.05, reconnect_max_s=0.2, **options)
    return MqttBridgeConfig(gateway_id, mqtt)


def one_device(device_id: str = "bat1", **kwargs: Any) -> DeviceRegistry:
    bindings = kwargs.pop("bindings", {"w_set": ACT, "w_max_lim": MAX, "on": ONOFF})
    return DeviceRegistry.of([Device(device_id, "battery", bindings, **kwargs)])


class MqttSite:
    """The device layer with the MQTT bridge as its driver, as the daemon composes them for MQTT devices."""

    def __init__(
        self,
        config: MqttBridgeConfig,
        registry: DeviceRegistry,
        *,
        forecasts: ForecastSource | None = None,
        measurements: MeasurementSink | None = None,
        health: HealthSink | None = None,
        clock: Callable[[], float] = time.time,
        **seams: Any,
    ) -> None:
        metrics = CollectorRegistry()
        self.driver = MqttBridge(config, registry, metrics_registry=metrics, forecasts=forecasts, clock=clock,
                                 **seams)  # fmt: skip
        drivers = {MqttBridge.protocol: self.driver}
        self.layer = DeviceLayer(
            registry, drivers, device_timing(config.mqtt), metrics_registry=metrics, forecasts=forecasts,
            measurements=measurements, health=health, clock=clock,
        )  # fmt: skip
        self.metrics = self.driver.metrics
        self.views = self.driver.views

    async def run(self) -> None:
        """Run the layer and the bridge until the bridge is stopped."""
        layer = asyncio.create_task(self.layer.run())
        try:
            await self.driver.run(self.layer)
        finally:
            layer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await layer

    def stop(self) -> None:
        self.driver.stop()

    def on_output(self, event: OutputChanged) -> None:
        self.layer.on_output(event)
        self.driver.on_output(event)

    def refresh_plans(self) -> None:
        self.layer.refresh_plans()

    @property
    def connected(self) -> bool:
        return self.driver.connected

    def device_healthy(self, device_id: str) -> bool:
        return self.driver.device_healthy(device_id)

    def device_status(self) -> list[dict[str, Any]]:
        return self.driver.device_status()


@asynccontextmanager
async def running(bridge: MqttSite, *, connected: bool = True) -> AsyncIterator[MqttSite]:
    """Run the bridge; wait for its broker connection unless told otherwise; stop it cleanly afterwards."""
    task = asyncio.create_task(bridge.run())
    try:
        if connected:
            await wait_until(lambda: bridge.connected)
        yield bridge
    finally:
        bridge.stop()
        await asyncio.wait_for(task, TIMEOUT_S)


def make_bridge(config: MqttBridgeConfig, registry: DeviceRegistry, **seams: Any) -> MqttSite:
    return MqttSite(config, registry, **seams)


def sample(bridge: MqttSite, name: str, **labels: str) -> float:
    """A metric's current value in the bridge's own registry (0 when never set)."""
    value = bridge.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
