"""End to end: the real daemon, mosquitto, an MQTT device, SCADA over MMS, and the fake HEDERA."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from relevent.demo.hedera import REQUESTS
from relevent.demo.hedera_server import Script
from tests.daemon import GatewayArgs, run_cli
from tests.hedera.site import FIRM_W, SECRET, config, fake_hedera
from tests.integration.gateway import COMMANDS, KW, connect, device_and_gateway, read
from tests.mosquitto import Broker, Inbox

pytestmark = pytest.mark.slow

REPLIES = f"{REQUESTS}/reply"
ASKER = "ems/replies/7"  # an MQTT 5 response topic
GRANT_W = 3000.0
WAIT_S = 30.0


async def reply(inbox: Inbox, state: str) -> dict[str, Any]:
    message = await inbox.until(
        lambda m: m.topic.value == REPLIES and json.loads(m.payload)["state"] == state, WAIT_S
    )
    payload: dict[str, Any] = json.loads(message.payload)
    return payload


async def followed(inbox: Inbox, state: str, watts: float) -> dict[str, Any]:
    """The reply in `state`, once the device also had a command that limits it to `watts`.

    In either order: the device's command may leave before the reply to the EMS does.
    """
    seen: dict[str, dict[str, Any]] = {}

    def both(message: aiomqtt.Message) -> bool:
        payload = json.loads(message.payload)
        if message.topic.value == REPLIES and payload["state"] == state:
            seen["reply"] = payload
        if message.topic.value == COMMANDS and payload.get("w_max_lim") == watts:
            seen["command"] = payload
        return len(seen) == 2  # the reply and the command

    await inbox.until(both, WAIT_S)
    return seen["reply"]


def ready(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=5) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError:
        return False


async def test_an_ems_request_becomes_a_maxpow_schedule_and_falls_back_while_hedera_is_down(
    broker: Broker, tmp_path: Path
) -> None:
    async with fake_hedera(tmp_path, poll_window=(0.5, 5.0), refresh_window=(1.0, 2.0)) as (fake, secret):
        fake.script(Script(polls=1))
        async with device_and_gateway(broker, tmp_path, config(fake, secret), REPLIES) as (gw, ems, inbox):
            start = int(time.time()) + 3
            request = {"id": "e2e", "direction": "IMPORT", "start": {"seconds": start, "nanos": 0},
                       "resolution": "FIVE_MINUTES", "values": [GRANT_W] * 4}  # fmt: skip
            await ems.publish(REQUESTS, json.dumps(request), qos=1)
            accepted = await followed(inbox, "accepted", GRANT_W)  # the device follows once the grant runs
            assert accepted["applied"]["priority"] == 20
            client = await asyncio.to_thread(connect, gw.mms_port)
            try:
                scada = {item: await asyncio.to_thread(read, client, f"MaxPow_FSCH01$SP${item}")
                         for item in ("ValASG001$setMag$f", "NumEntr$setVal", "SchdPrio$setVal",
                                      "StrTm01$setTm")}  # fmt: skip
            finally:
                client.close()
            assert scada == {"ValASG001$setMag$f": GRANT_W / KW, "NumEntr$setVal": 4, "SchdPrio$setVal": 20,
                             "StrTm01$setTm": start}  # fmt: skip

            await fake.down()
            fallback = await followed(inbox, "fallback", FIRM_W)
            window_end = fake.issued[-1][4]
            assert fallback["ts"] >= window_end  # not before the directive's window has passed
            assert not await asyncio.to_thread(ready, gw.http_port)

            await fake.up()
            await followed(inbox, "restored", GRANT_W)
            assert await asyncio.to_thread(ready, gw.http_port)
            assert gw.daemon.stop() == 0
            stopping = await reply(inbox, "fallback")  # sent while the daemon stopped
            logged = json.dumps(gw.daemon.lines) + gw.daemon.stderr.decode(errors="replace")
        assert stopping["message"] == "gateway stopping"
        assert SECRET not in logged
        assert "fake-1" not in logged  # nor a bearer token (the fake's are fake-<n>): only a hash prefix


async def test_an_unreadable_request_is_rejected_over_mqtt(broker: Broker, tmp_path: Path) -> None:
    async with fake_hedera(tmp_path) as (fake, secret):
        gateway = device_and_gateway(broker, tmp_path, config(fake, secret), REPLIES, ASKER)
        async with gateway as (_, ems, inbox):
            await ems.publish(REQUESTS, b"{direction:SIDEWAYS}", qos=1)
            rejected = await reply(inbox, "rejected")
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.ResponseTopic = ASKER
            properties.CorrelationData = b"ask-7"
            await ems.publish(REQUESTS, b"garbage", qos=1, properties=properties)
            answer = await inbox.until(lambda m: m.topic.value == ASKER, WAIT_S)
        assert "direction" in rejected["message"]
        assert json.loads(answer.payload)["state"] == "rejected"
        assert answer.properties is not None
        assert getattr(answer.properties, "CorrelationData", None) == b"ask-7"
        assert fake.calls == []


async def test_a_secret_file_others_can_read_stops_the_daemon_at_start(tmp_path: Path) -> None:
    async with fake_hedera(tmp_path) as (fake, secret):
        secret.chmod(0o644)
        toml = tmp_path / "gw.toml"
        toml.write_text(config(fake, secret))
        args = GatewayArgs(tmp_path / "state", extra=("--config", str(toml)))
        result = await asyncio.to_thread(run_cli, *args.argv())
    assert result.returncode == 78, result.stderr[-2000:]
    assert "readable by others" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert fake.calls == []
