"""ctl/set: one command per device with the whole intent, sent at each change, every heartbeat, on online."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import aiomqtt
import pytest

from relevent.lan.registry import Device, DeviceRegistry
from tests.mosquitto import Broker, mqtt_client, wait_until
from tests.mqtt.conftest import (
    ACT,
    MAX,
    ONOFF,
    bridge_config,
    make_bridge,
    one_device,
    output,
    running,
    sample,
)

SET = "relevent/v1/gw1/dev/bat1/ctl/set"


def _ts(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_outputs_of_three_controllers_combine_into_one_command(broker: Broker, protocol: str) -> None:
    config = bridge_config(broker, heartbeat_s=30, protocol=protocol)
    bridge = make_bridge(config, one_device())
    client_protocol = aiomqtt.ProtocolVersion.V5 if protocol == "5" else aiomqtt.ProtocolVersion.V311
    async with mqtt_client(broker, SET, protocol=client_protocol) as (_, inbox), running(bridge):
        first = await inbox.next_json()  # on connect: nothing known yet, every field null
        assert (first["w_set"], first["w_max_lim"], first["on"]) == (None, None, None)
        bridge.on_output(output(ACT, 3000.0, "DER_Scheduler_Control/ActPow_FSCH03", 20))
        message = await inbox.next()
        bridge.on_output(output(MAX, 11000.0, prio=5))
        bridge.on_output(output(ONOFF, value=True, prio=7))
        latest = await inbox.until(lambda m: json.loads(m.payload)["on"] is not None)
        # Counted once the broker acknowledged it: that may come after the subscriber has the command.
        await wait_until(lambda: sample(bridge, "relevent_mqtt_commands_sent_total", device="bat1") >= 3)

    command = json.loads(message.payload)
    assert message.retain is False
    assert command["w_set"] == 3000.0
    assert command["src"]["w_set"] == {"schedule": "DER_Scheduler_Control/ActPow_FSCH03", "prio": 20}
    assert command["w_max_lim"] is None
    assert command["src"]["w_max_lim"] is None
    final = json.loads(latest.payload)
    assert (final["w_set"], final["w_max_lim"], final["on"]) == (3000.0, 11000.0, True)
    assert final["src"]["on"] == {"schedule": "DER_Scheduler_Control/OnOff_FSCH01", "prio": 7}
    assert final["seq"] > command["seq"] > first["seq"]
    assert _ts(final["valid_until"]) - _ts(final["ts"]) == timedelta(seconds=60)  # 2 x heartbeat
    uuid.UUID(final["id"])
    if protocol == "5":
        assert latest.properties is not None
        assert latest.properties.json() == {  # type: ignore[no-untyped-call]
            "MessageExpiryInterval": 60,
            "ResponseTopic": "relevent/v1/gw1/dev/bat1/ctl/ack",
            "CorrelationData": uuid.UUID(final["id"]).bytes.hex(),
        }
    else:
        assert latest.properties is None or not hasattr(latest.properties, "ResponseTopic")


async def test_no_value_clears_the_field_and_its_source(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker), one_device())
    bridge.on_output(output(ACT, 1500.0))
    async with mqtt_client(broker, SET) as (_, inbox), running(bridge):
        assert (await inbox.next_json())["w_set"] == 1500.0
        bridge.on_output(output(ACT, None))
        command = await inbox.next_json()
    assert command["w_set"] is None
    assert command["src"]["w_set"] is None


async def test_clamp_limits_bound_the_fields(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker), one_device(w_min=-5000.0, w_max=4000.0))
    bridge.on_output(output(ACT, 9000.0))
    bridge.on_output(output(MAX, 20000.0))
    async with mqtt_client(broker, SET) as (_, inbox), running(bridge):
        command = await inbox.next_json()
        bridge.on_output(output(ACT, -8000.0))
        lower = await inbox.next_json()
    assert (command["w_set"], command["w_max_lim"]) == (4000.0, 5000.0)
    assert lower["w_set"] == -5000.0


async def test_devices_get_only_their_own_controllers(broker: Broker) -> None:
    registry = DeviceRegistry.of(
        [Device("bat1", "battery", {"w_set": ACT}), Device("evse1", "ev_charger", {"w_max_lim": ACT})]
    )
    bridge = make_bridge(bridge_config(broker), registry)
    async with mqtt_client(broker, "relevent/v1/gw1/dev/+/ctl/set") as (_, inbox), running(bridge):
        await inbox.next()
        await inbox.next()  # the two commands sent on connect
        bridge.on_output(output(ACT, 2000.0))
        got = {}
        for _ in range(2):
            message = await inbox.next()
            got[message.topic.value.split("/")[4]] = json.loads(message.payload)
    assert (got["bat1"]["w_set"], got["bat1"]["w_max_lim"]) == (2000.0, None)
    assert (got["evse1"]["w_set"], got["evse1"]["w_max_lim"]) == (None, 2000.0)


async def test_heartbeat_resends_the_current_command(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker, heartbeat_s=0.2), one_device())
    bridge.on_output(output(ACT, 1000.0))
    async with mqtt_client(broker, SET) as (_, inbox), running(bridge):
        commands = [await inbox.next_json(wait_s=1.0) for _ in range(3)]
    assert [c["w_set"] for c in commands] == [1000.0] * 3
    assert len({c["id"] for c in commands}) == 3
    assert [c["seq"] for c in commands] == sorted(c["seq"] for c in commands)
    assert _ts(commands[-1]["valid_until"]) - _ts(commands[-1]["ts"]) == timedelta(seconds=0.4)


async def test_device_coming_online_gets_the_current_command_at_once(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker, heartbeat_s=30), one_device())
    bridge.on_output(output(ACT, 700.0))
    async with mqtt_client(broker, SET) as (client, inbox), running(bridge):
        await inbox.next()  # the command sent on connect
        await client.publish("relevent/v1/gw1/dev/bat1/avail", b'{"state":"online"}', qos=1, retain=True)
        command = await inbox.next_json(wait_s=1.0)
        assert command["w_set"] == 700.0
        assert sample(bridge, "relevent_mqtt_device_online", device="bat1") == 1
        await client.publish("relevent/v1/gw1/dev/bat1/avail", b'{"state":"offline"}', qos=1, retain=True)
        with pytest.raises(TimeoutError):
            await inbox.next(wait_s=0.3)  # offline triggers nothing
        assert sample(bridge, "relevent_mqtt_device_online", device="bat1") == 0
