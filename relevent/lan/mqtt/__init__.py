"""The MQTT bridge to local devices (contract: docs/schemas and the LAN MQTT specification)."""

from relevent.lan.mqtt.bridge import MqttBridge
from relevent.lan.mqtt.config import BrokerConfig, MqttBridgeConfig
from relevent.lan.registry import Device, DeviceRegistry

__all__ = ["BrokerConfig", "Device", "DeviceRegistry", "MqttBridge", "MqttBridgeConfig"]
