"""The demo's HEDERA scenario: a fake HEDERA granting capacity, and an EMS that asks it over MQTT.

The gateway's `[hedera]` points at the fake (loopback, plain HTTP); the EMS asks for an hour of 9 kW; the
fake keeps it Pending for two reads, then caps it at 7 kW. The replies are printed as they come.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt

from relevent.demo.hedera_server import FakeHedera, Script, capped

MRID = "8f0c0d3e-2b44-4f5e-9a61-5f1d2c3b4a59"
REQUESTS = "hedera-requests"
REPLIES = f"{REQUESTS}/reply"
ASKED_W = 9000.0
GRANTED_W = 7000.0
SLOTS = ("@Control/MaxPow_FSCH05", "@Control/MaxPow_FSCH06", "@Control/MaxPow_FSCH07")  # SCADA's are 01, 02


def hedera_config(  # noqa: PLR0913 - what differs between the demo's site and the tests'
    fake: FakeHedera,
    secret: Path,
    *,
    mrid: str = MRID,
    slots: tuple[str, ...] = SLOTS,
    firm_w: float = 3000.0,
    poll_s: float = 1.0,
    ems: str = "",
) -> str:
    """The gateway's TOML for HEDERA: the actor `hedera` and its slots, the import direction.

    `ems` holds further `[hedera.ems]` lines.
    """
    listed = ", ".join(f'"{slot}"' for slot in slots)
    return f"""[[actors]]
name = "hedera"
band = [20, 21]
slots = [{listed}]
[hedera]
enabled = true
base_url = "{fake.url}"
token_url = "{fake.token_url}"
client_id = "client"
client_secret_file = "{secret}"
first_poll_delay_s = {poll_s}
poll_interval_s = {poll_s}
[hedera.import]
mrid = "{mrid}"
hedera_direction = "I"
firm_capacity_w = {firm_w}
[hedera.ems]
request_topic = "{REQUESTS}"
{ems}"""


@asynccontextmanager
async def fake_hedera(workdir: Path) -> AsyncIterator[str]:
    """The fake HEDERA on loopback while the demo runs; yields the gateway's TOML for it."""
    fake = FakeHedera(time.time, {MRID: "I"}, poll_window=(1.0, 3.0), refresh_window=(30.0, 30.0))
    fake.script(Script(polls=2, points=capped(GRANTED_W)))
    secret = workdir / "hedera_client_secret"
    secret.write_text("secret\n")
    secret.chmod(0o600)
    await fake.start()
    try:
        yield hedera_config(fake, secret)
    finally:
        await fake.stop()


async def ems_asks(host: str, port: int, say: Callable[[str], None]) -> None:
    """The EMS asks for an hour of `ASKED_W` from 10 s on, and prints every reply."""
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(REPLIES, qos=1)
        start = int(time.time()) + 10
        request = {"id": "demo-1", "direction": "IMPORT", "start": {"seconds": start, "nanos": 0},
                   "resolution": "FIVE_MINUTES", "values": [ASKED_W] * 12}  # fmt: skip
        await client.publish(REQUESTS, json.dumps(request), qos=1)
        say(f"EMS asked HEDERA for {ASKED_W:.0f} W from {time.strftime('%H:%M:%S', time.localtime(start))}")
        async for message in client.messages:
            reply = json.loads(message.payload)
            granted = reply.get("granted") or {}
            values = granted.get("values") or []
            say(f"HEDERA {reply['state']}" + (f": {values[0]:.0f} W granted" if values else ""))
