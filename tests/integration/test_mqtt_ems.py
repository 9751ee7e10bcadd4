"""An EMS extension request over MQTT becomes a schedule that drives the device and SCADA reads back."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import COMMANDS, KW, LD, connect, device_and_gateway, read
from tests.mosquitto import Broker

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
