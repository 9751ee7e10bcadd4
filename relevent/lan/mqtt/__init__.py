"""The MQTT bridge to local devices (contract: docs/schemas and the LAN MQTT specification)."""

from relevent.lan.mqtt.bridge import MqttBridge
from relevent.lan.mqtt.config import BrokerConfig, MqttBridgeConfig
from relevent.lan.mqtt.ports import (
    DeviceMeasurement,
    ExtensionAccepted,
    ExtensionRejected,
    ExtensionRequest,
    ExtensionRequestHandler,
    ForecastSource,
    HealthSink,
    MeasurementSink,
)
from relevent.lan.mqtt.registry import Device, DeviceRegistry, build_registry

__all__ = [
    "BrokerConfig",
    "Device",
    "DeviceMeasurement",
    "DeviceRegistry",
    "ExtensionAccepted",
    "ExtensionRejected",
    "ExtensionRequest",
    "ExtensionRequestHandler",
    "ForecastSource",
    "HealthSink",
    "MeasurementSink",
    "MqttBridge",
    "MqttBridgeConfig",
    "build_registry",
]
