"""Home Assistant MQTT discovery (`[mqtt] ha_discovery`): controllers and device health as entities.

The gateway publishes, retained, each controller's state (`<base>/controller/<LN>`: its output in W or
on/off, the active schedule and its priority) and each device's health (`<base>/dev/<id>/health`), and
one discovery config per entity under `<prefix>/<component>/relevent_<gateway>/<object>/config`. Every
entity is available while the gateway's retained status is `online`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relevent.lan.driver import DeviceHealth
from relevent.lan.mqtt.connection import OutMessage
from relevent.lan.mqtt.topics import Topics
from relevent.lan.registry import Device
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.spec import ControllerSpec
from relevent.scheduler.values import ValueType


@dataclass(frozen=True)
class HaController:
    """A controller as an entity: its full reference, whether it switches, its output's factor to W."""

    ref: str
    boolean: bool
    to_w: float = 1.0

    @property
    def name(self) -> str:
        """The LN name (`MaxPow_FSCC1`)."""
        return self.ref.rpartition("/")[2]


@dataclass(frozen=True)
class HaDevice:
    """A device as an entity: its id and the protocol its driver speaks."""

    id: str
    protocol: str


@dataclass(frozen=True)
class HaEntities:
    """What becomes an entity: every controller of the model, every device of any protocol."""

    controllers: tuple[HaController, ...]
    devices: tuple[HaDevice, ...]


def ha_entities(controllers: Iterable[ControllerSpec], devices: Iterable[Device]) -> HaEntities:
    """The entities of a gateway: outputs scaled to W by their `units`, switches as they are."""
    return HaEntities(
        tuple(HaController(c.ref, c.value_type is ValueType.BOOL, c.to_si) for c in controllers),
        tuple(HaDevice(device.id, device.protocol) for device in devices),
    )


def object_id(text: str) -> str:
    """`text` as a discovery object or node id (letters, digits, `_` and `-` only)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


class HaDiscovery:
    """Builds the discovery configs and the state messages the entities read."""

    def __init__(
        self,
        topics: Topics,
        gateway_id: str,
        version: str,
        prefix: str,
        entities: HaEntities,
    ) -> None:
        self._topics = topics
        self._node = object_id(f"relevent_{gateway_id}")
        self._prefix = prefix.rstrip("/")
        self.controllers = {controller.ref: controller for controller in entities.controllers}
        self.devices = {device.id: device for device in entities.devices}
        self._device = {
            "identifiers": [self._node],
            "name": f"relevent-gw {gateway_id}",
            "manufacturer": "relevent",
            "model": "relevent-gw",
            "sw_version": version,
        }
        self._origin = {"name": "relevent-gw", "sw_version": version}

    def configs(self) -> list[OutMessage]:
        """One retained discovery config per entity."""
        messages = []
        for controller in self.controllers.values():
            state = self._topics.controller(controller.name)
            if controller.boolean:
                output: dict[str, Any] = {"value_template": "{{ 'ON' if value_json.value else 'OFF' }}",
                                          "device_class": "power"}  # fmt: skip
                messages.append(self._config("binary_sensor", f"{controller.name}_output",
                                             f"{controller.name} output", state, output))  # fmt: skip
            else:
                output = {"value_template": "{{ value_json.value }}", "unit_of_measurement": "W",
                          "device_class": "power", "state_class": "measurement"}  # fmt: skip
                messages.append(self._config("sensor", f"{controller.name}_output",
                                             f"{controller.name} output", state, output))  # fmt: skip
            schedule = {"value_template": "{{ value_json.schedule or 'none' }}",
                        "json_attributes_topic": state}  # fmt: skip
            messages.append(self._config("sensor", f"{controller.name}_schedule",
                                         f"{controller.name} active schedule", state, schedule))  # fmt: skip
        for device in self.devices.values():
            health = {"value_template": "{{ value_json.health }}", "entity_category": "diagnostic",
                      "json_attributes_topic": self._topics.health(device.id)}  # fmt: skip
            messages.append(self._config("sensor", f"{device.id}_health", f"{device.id} health",
                                         self._topics.health(device.id), health))  # fmt: skip
        return messages

    def controller_state(self, event: OutputChanged) -> OutMessage | None:
        """The retained state of the event's controller (None: not an entity)."""
        controller = self.controllers.get(event.controller)
        if controller is None:
            return None
        value: float | bool | None = None
        if event.value is not None and controller.boolean:
            value = bool(event.value)
        elif event.value is not None:
            value = round(float(event.value) * controller.to_w, 6)  # no float noise of the scaling
        state = {"value": value, "schedule": event.source, "priority": event.priority,
                 "ts": _iso(event.timestamp)}  # fmt: skip
        return OutMessage(self._topics.controller(controller.name), json.dumps(state).encode(), retain=True)

    def health_state(self, device_id: str, health: DeviceHealth, at: float) -> OutMessage | None:
        """The retained health of a device (None: not an entity)."""
        device = self.devices.get(device_id)
        if device is None:
            return None
        state = {"health": health.value, "healthy": health.healthy, "protocol": device.protocol,
                 "ts": _iso(at)}  # fmt: skip
        return OutMessage(self._topics.health(device_id), json.dumps(state).encode(), retain=True)

    def _config(
        self, component: str, obj: str, name: str, state_topic: str, extra: dict[str, Any]
    ) -> OutMessage:
        unique = object_id(obj)
        payload = {
            "name": name,
            "unique_id": f"{self._node}_{unique}",
            "state_topic": state_topic,
            "availability": [{"topic": self._topics.status, "value_template": "{{ value_json.state }}"}],
            "device": self._device,
            "origin": self._origin,
            **extra,
        }
        topic = f"{self._prefix}/{component}/{self._node}/{unique}/config"
        return OutMessage(topic, json.dumps(payload).encode(), retain=True)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
