"""The MQTT bridge under test: configuration, device registry, sinks; brokers come from tests.mosquitto."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry

from relevent.config import MqttSection
from relevent.lan.mqtt.bridge import MqttBridge
from relevent.lan.mqtt.config import MqttBridgeConfig
from relevent.lan.mqtt.seams import DeviceMeasurement
from relevent.lan.registry import Device, DeviceRegistry
from relevent.scheduler.events import OutputChanged
from tests.mosquitto import TIMEOUT_S, Broker, wait_until

ACT = "DER_Scheduler_Control/ActPow_FSCC1"
MAX = "DER_Scheduler_Control/MaxPow_FSCC1"
ONOFF = "DER_Scheduler_Control/OnOff_FSCC1"


class Recorder:
    """The measurement and health sinks of the composition root, in memory."""

    def __init__(self) -> None:
        self.measurements: list[DeviceMeasurement] = []
        self.health: list[tuple[str, bool]] = []

    def on_measurement(self, measurement: DeviceMeasurement) -> None:
        self.measurements.append(measurement)

    def on_health(self, device_id: str, healthy: bool) -> None:
        self.health.append((device_id, healthy))


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


@asynccontextmanager
async def running(bridge: MqttBridge, *, connected: bool = True) -> AsyncIterator[MqttBridge]:
    """Run the bridge; wait for its broker connection unless told otherwise; stop it cleanly afterwards."""
    task = asyncio.create_task(bridge.run())
    try:
        if connected:
            await wait_until(lambda: bridge.connected)
        yield bridge
    finally:
        bridge.stop()
        await asyncio.wait_for(task, TIMEOUT_S)


def make_bridge(config: MqttBridgeConfig, registry: DeviceRegistry, **seams: Any) -> MqttBridge:
    return MqttBridge(config, registry, metrics_registry=CollectorRegistry(), **seams)


def sample(bridge: MqttBridge, name: str, **labels: str) -> float:
    """A metric's current value in the bridge's own registry (0 when never set)."""
    value = bridge.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
