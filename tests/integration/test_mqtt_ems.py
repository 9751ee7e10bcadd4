"""An EMS extension request over MQTT becomes a schedule that drives the device and SCADA reads back."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.integration.gateway import COMMANDS, KW, LD, connect, device_and_gateway, gateway, read
from tests.mosquitto import Broker, mqtt_client

pytestmark = pytest.mark.slow

REQUESTS = "site/ems/request"
REPLIES = f"{REQUESTS}/reply"
SLOT = f"{LD}/ActPow_FSCH05"
CONFIG = f"""[mqtt]
heartbeat_s = 60
ems_request_topic = "{REQUESTS}"
ems_slot = "@Control/ActPow_FSCH05"
ems_priority = 60
"""


def request(direction: str, values: list[float], start: float | None = None) -> bytes:
    payload: dict[str, Any] = {"direction": direction, "resolution": "FIVE_MINUTES", "values": values}
    if start is not None:
        payload["start"] = {"seconds": int(start), "nanos": 0}
    return json.dumps(payload).encode()


def scada_reads(mms_port: int) -> dict[str, Any]:
    items = [
        "ActPow_FSCH05$SP$ValASG001$setMag$f",
        "ActPow_FSCH05$SP$ValASG002$setMag$f",
        "ActPow_FSCH05$SP$NumEntr$setVal",
        "ActPow_FSCH05$SP$SchdIntv$setVal",
        "ActPow_FSCH05$SP$SchdPrio$setVal",
        "ActPow_FSCH05$SP$StrTm01$setTm",
        "ActPow_FSCH05$ST$SchdSt$stVal",
        "ActPow_FSCC1$ST$ActSchdRef$stVal",
    ]
    client = connect(mms_port)
    try:
        return {item.split("$")[2]: read(client, item) for item in items}
    finally:
        client.close()


async def test_an_ems_request_becomes_a_schedule_that_scada_reads_back(
    broker: Broker, tmp_path: Path
) -> None:
    async with device_and_gateway(broker, tmp_path, CONFIG, REPLIES) as (gw, ems, inbox):
        sent = time.time()
        await ems.publish(REQUESTS, request("EXPORT", [1500, 2500]), qos=1)
        messages = {m.topic.value: json.loads(m.payload) for m in [await inbox.next(), await inbox.next()]}
        answered = time.time()
        read_back = await asyncio.to_thread(scada_reads, gw.mms_port)

        await ems.publish(REQUESTS, request("IMPORT", [700], start=sent - 300), qos=1)  # run over
        refused = await inbox.next_json()
        with pytest.raises(TimeoutError):  # the running schedule is left alone
            await inbox.next(0.3)

        await ems.publish(REQUESTS, request("IMPORT", [700]), qos=1)
        replaced = {m.topic.value: json.loads(m.payload) for m in [await inbox.next(), await inbox.next()]}

    assert messages[REPLIES]["result"] == "accepted"
    assert messages[REPLIES]["slot"] == SLOT
    command = messages[COMMANDS]
    assert (command["w_set"], command["src"]["w_set"]) == (1500.0, {"schedule": SLOT, "prio": 60})
    start = read_back.pop("StrTm01")
    assert start == int(start)
    assert sent - 1 < start <= answered  # "start now": the whole second the request arrived in
    assert read_back == {
        "ValASG001": 1500.0 / KW,
        "ValASG002": 2500.0 / KW,
        "NumEntr": 2,
        "SchdIntv": 300,
        "SchdPrio": 60,
        "SchdSt": 4,
        "ActSchdRef": SLOT,
    }
    assert (refused["result"], refused["reason"]) == ("rejected", "out_of_range")
    assert replaced[REPLIES]["result"] == "accepted"
    assert replaced[COMMANDS]["w_set"] == -700.0  # IMPORT is consumption


BOUNDED = f"""[mqtt]
heartbeat_s = 60
ems_request_topic = "{REQUESTS}"
ems_slot = "@Control/MaxPow_FSCH05"

[[devices]]
id = "bat1"
class = "battery"
w_set = "@Control/ActPow_FSCC1"
w_max_lim = "@Control/MaxPow_FSCC1"
w_min = -11000.0
w_max = 11000.0
"""
BAT1_COMMANDS = "relevent/v1/gw1/dev/bat1/ctl/set"


async def test_ems_request_values_are_bounded_by_the_devices_and_the_model(
    broker: Broker, tmp_path: Path
) -> None:
    async with mqtt_client(broker, REPLIES, BAT1_COMMANDS) as (ems, inbox):
        with gateway(broker, tmp_path, BOUNDED):
            await inbox.until(lambda message: message.topic.value == BAT1_COMMANDS)
            for watts in (1e30, 1e300, 11_001, 11_000):
                await ems.publish(REQUESTS, request("IMPORT", [watts]), qos=1)
            received = [await inbox.next() for _ in range(5)]  # 4 replies, 1 command (the accepted limit)
    replies = [json.loads(m.payload) for m in received if m.topic.value == REPLIES]
    commands = [json.loads(m.payload) for m in received if m.topic.value == BAT1_COMMANDS]
    assert [(r["result"], r.get("reason")) for r in replies] == [("rejected", "out_of_range")] * 3 + [
        ("accepted", None)
    ]
    assert [c["w_max_lim"] for c in commands] == [11_000.0]


async def test_an_ems_request_cannot_have_its_reply_published_on_a_device_topic(
    broker: Broker, tmp_path: Path
) -> None:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = BAT1_COMMANDS  # the gateway may publish there; the requester may not
    async with mqtt_client(broker, REPLIES, BAT1_COMMANDS) as (ems, inbox):
        with gateway(broker, tmp_path, BOUNDED):
            await inbox.until(lambda message: message.topic.value == BAT1_COMMANDS)
            await ems.publish(REQUESTS, request("IMPORT", [5000]), qos=1, properties=props)
            both = [await inbox.next(), await inbox.next()]
    received = {message.topic.value: json.loads(message.payload) for message in both}
    assert received[REPLIES]["result"] == "accepted"  # on the reply topic, not on the device's
    assert received[BAT1_COMMANDS]["w_max_lim"] == 5000.0  # the device gets its command, nothing else
