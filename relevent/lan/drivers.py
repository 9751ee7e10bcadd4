"""One driver per protocol in use: the MQTT bridge, and the others built from their configuration."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from relevent.config import Settings
from relevent.lan.driver import Driver
from relevent.lan.mqtt.bridge import MqttBridge
from relevent.lan.ocpp.driver import OcppDriver
from relevent.lan.ocpp.metrics import OcppMetrics
from relevent.lan.registry import DeviceRegistry
from relevent.lan.relay.driver import PROTOCOL as RELAY
from relevent.lan.relay.driver import relay_driver
from relevent.lan.sunspec.driver import PROTOCOL as SUNSPEC
from relevent.lan.sunspec.driver import sunspec_driver


def build_drivers(
    settings: Settings, registry: DeviceRegistry, bridge: MqttBridge, metrics: CollectorRegistry
) -> dict[str, Driver]:
    """The drivers of every protocol some device uses; the bridge always (the gateway's status topic)."""
    drivers: dict[str, Driver] = {bridge.protocol: bridge}
    stations = [device.id for device in registry if device.protocol == OcppDriver.protocol]
    if stations:
        drivers[OcppDriver.protocol] = OcppDriver(settings.ocpp, stations, metrics=OcppMetrics(metrics))
    inverters = {entry.id: entry.sunspec for entry in settings.devices if entry.sunspec is not None}
    if inverters:
        drivers[SUNSPEC] = sunspec_driver(inverters)
    boards = {entry.id: entry.relay for entry in settings.devices if entry.relay is not None}
    if boards:
        drivers[RELAY] = relay_driver(boards)
    return drivers
