"""Home Assistant MQTT discovery with the real daemon and broker.

Each discovery config is checked against the keys and values Home Assistant documents for MQTT sensors
and binary sensors (https://www.home-assistant.io/integrations/sensor.mqtt/, .../binary_sensor.mqtt/,
.../mqtt/#discovery-messages): unknown keys, a missing state topic or unique id, a power sensor without a
power unit are refused. Then the states the entities read: a controller's output in W with its schedule,
a device's health.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tests.integration.gateway import KW, LD, Schedule, gateway, next_second, scada_programs
from tests.mosquitto import Broker, mqtt_client

NODE = "relevent_gw1"
POWER_UNITS = {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"}
BINARY_CLASSES = {"battery", "battery_charging", "connectivity", "plug", "power", "problem", "running"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Availability(_Strict):
    topic: str
    value_template: str | None = None
    payload_available: str = "online"
    payload_not_available: str = "offline"


class DeviceInfo(_Strict):
    identifiers: list[str] = Field(min_length=1)  # or connections; the gateway sends identifiers
    name: str
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    configuration_url: str | None = None
    suggested_area: str | None = None
    via_device: str | None = None


class Origin(_Strict):
    name: str
    sw_version: str | None = None
    support_url: str | None = None


class Entity(_Strict):
    name: str | None
    unique_id: str = Field(min_length=1)  # needed for the device registry
    state_topic: str
    availability: list[Availability] | None = None
    availability_mode: Literal["all", "any", "latest"] | None = None
    device: DeviceInfo
    origin: Origin
    value_template: str | None = None
    json_attributes_topic: str | None = None
    json_attributes_template: str | None = None
    entity_category: Literal["config", "diagnostic"] | None = None
    device_class: str | None = None
    enabled_by_default: bool | None = None
    expire_after: int | None = None
    force_update: bool | None = None
    icon: str | None = None
    object_id: str | None = None
    qos: int | None = None


class SensorConfig(Entity):
    unit_of_measurement: str | None = None
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    suggested_display_precision: int | None = None

    @model_validator(mode="after")
    def _power_in_power_units(self) -> SensorConfig:
        if self.device_class == "power" and self.unit_of_measurement not in POWER_UNITS:
            raise ValueError(f"a power sensor in {self.unit_of_measurement!r}")
        return self


class BinarySensorConfig(Entity):
    payload_on: str = "ON"
    payload_off: str = "OFF"
    off_delay: int | None = None

    @model_validator(mode="after")
    def _known_class(self) -> BinarySensorConfig:
        if self.device_class is not None and self.device_class not in BINARY_CLASSES:
            raise ValueError(f"binary sensor class {self.device_class!r}")
        return self


CONFIG = """
[mqtt]
heartbeat_s = 60
ack_timeout_s = 0.5
ha_discovery = true

[[devices]]
id = "bat1"
class = "battery"
w_max_lim = "@Control/MaxPow_FSCC1"
on = "@Control/OnOff_FSCC1"
"""


def payload(message: aiomqtt.Message) -> dict[str, object]:
    data: dict[str, object] = json.loads(message.payload)
    return data


async def test_controllers_and_device_health_are_discovered_and_their_states_published(
    broker: Broker, tmp_path: Path
) -> None:
    topics = ("homeassistant/#", "relevent/v1/gw1/controller/#", "relevent/v1/gw1/dev/+/health")
    with gateway(broker, tmp_path, CONFIG) as gw:
        async with mqtt_client(broker, *topics) as (_, inbox):
            configs: dict[str, Entity] = {}
            wanted = {f"sensor/{NODE}/MaxPow_FSCC1_output", f"binary_sensor/{NODE}/OnOff_FSCC1_output",
                      f"sensor/{NODE}/MaxPow_FSCC1_schedule", f"sensor/{NODE}/bat1_health"}  # fmt: skip

            latest: dict[str, dict[str, object]] = {}  # the newest state per topic, whatever was awaited

            def discovered(message: aiomqtt.Message) -> bool:
                topic = str(message.topic)
                if not topic.startswith("homeassistant/"):
                    latest[topic] = payload(message)
                else:
                    assert message.retain
                    kind = SensorConfig if topic.split("/")[1] == "sensor" else BinarySensorConfig
                    configs[topic.removeprefix("homeassistant/").removesuffix("/config")] = (
                        kind.model_validate_json(message.payload))
                return wanted <= set(configs)

            await inbox.until(discovered)
            unique_ids = [entity.unique_id for entity in configs.values()]
            assert len(unique_ids) == len(set(unique_ids))
            output = configs[f"sensor/{NODE}/MaxPow_FSCC1_output"]
            assert isinstance(output, SensorConfig)
            assert (output.unit_of_measurement, output.device_class) == ("W", "power")
            assert output.state_topic == "relevent/v1/gw1/controller/MaxPow_FSCC1"
            assert output.availability == [Availability(topic="relevent/v1/gw1/status",
                                                        value_template="{{ value_json.state }}")]  # fmt: skip
            health = configs[f"sensor/{NODE}/bat1_health"]
            assert health.state_topic == "relevent/v1/gw1/dev/bat1/health"
            assert health.entity_category == "diagnostic"

            start = next_second(1.5)
            await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [7.0], start, intv_s=60, prio=50))
            def seen(topic: str, **fields: object) -> bool:
                state = latest.get(f"relevent/v1/gw1/{topic}", {})
                return all(state.get(name) == value for name, value in fields.items())

            await inbox.until(lambda m: discovered(m) and seen("controller/MaxPow_FSCC1", value=7 * KW,
                              schedule=f"{LD}/MaxPow_FSCH01", priority=50))  # fmt: skip
            # bat1 never acknowledges its commands: its health tells
            unacknowledged = {"health": "not_acknowledged", "healthy": False, "protocol": "mqtt"}
            if not seen("dev/bat1/health", **unacknowledged):
                await inbox.until(lambda m: discovered(m) and seen("dev/bat1/health", **unacknowledged))
