"""Power loss during a burst of intents: after SIGKILL each intent is in its slot complete or not at all.

EMS requests over the real broker are intents of the EMS actor with one key: each replaces the whole schedule
of its slot as one step. The daemon is killed while a burst is in flight, restarted on the same state
directory, and SCADA reads the slot back over MMS: it must be exactly one request of the burst (every
parameter of the same one, never a mix), at least the last one answered, and the key must still hold the
slot (the next request replaces it there). Every answered intent is in the audit trail.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from relevent.app import STORE_FILE
from relevent.obs.audit_store import AUDIT_FILE
from tests.daemon import Daemon, GatewayArgs, running
from tests.db import opened
from tests.integration.gateway import LD, connect, read
from tests.mosquitto import Broker, mqtt_client

pytestmark = pytest.mark.slow

CYCLES = 4
BURST = 60
REQUESTS = "site/ems/request"
REPLIES = f"{REQUESTS}/reply"
FSCH = "ActPow_FSCH05"
CONFIG = f"""[mqtt]
heartbeat_s = 60
ems_request_topic = "{REQUESTS}"
ems_reply_topic = "{REPLIES}"
ems_slot = "@Control/{FSCH}"
ems_priority = 60
ems_request_rate = 10000
ems_request_burst = 10000
"""
INTERVAL_S = 300  # FIVE_MINUTES


def values_of(number: int) -> list[int]:
    """Request `number`'s values in kW: a length and values no other request has (exact in FLOAT32)."""
    return [number * 100 + k for k in range(1 + number * 7 % 40)]


def payload(number: int, start: int) -> bytes:
    return json.dumps({
        "direction": "EXPORT", "resolution": "FIVE_MINUTES", "start": {"seconds": start, "nanos": 0},
        "values": [kw * 1000 for kw in values_of(number)],
    }).encode()  # fmt: skip


def slot_read_back(mms_port: int) -> dict[str, Any]:
    """The slot as SCADA reads it: every parameter, and the values up to NumEntr."""
    client = connect(mms_port)
    try:
        names = ("NumEntr", "SchdIntv", "SchdPrio")
        found = {name: read(client, f"{FSCH}$SP${name}$setVal") for name in names}
        found["StrTm01"] = read(client, f"{FSCH}$SP$StrTm01$setTm")
        found["SchdSt"] = read(client, f"{FSCH}$ST$SchdSt$stVal")
        found["values"] = [
            read(client, f"{FSCH}$SP$ValASG{i:03d}$setMag$f") for i in range(1, found["NumEntr"] + 1)
        ]
        return found
    finally:
        client.close()


def expected(number: int, start: int) -> dict[str, Any]:
    values = values_of(number)
    return {"NumEntr": len(values), "SchdIntv": INTERVAL_S, "SchdPrio": 60, "StrTm01": float(start),
            "SchdSt": 3, "values": [float(v) for v in values]}  # fmt: skip


async def burst_until_killed(
    broker: Broker, daemon: Daemon, first: int, base: int, rng: random.Random
) -> int:
    """Send a burst; SIGKILL the daemon after a random number of answers; return how many were answered."""
    kill_after = rng.randint(1, BURST - 10)
    answered = 0
    async with mqtt_client(broker, REPLIES) as (ems, inbox):
        for number in range(first, first + BURST):
            await ems.publish(REQUESTS, payload(number, base + number * INTERVAL_S), qos=1)
        while answered < kill_after:
            reply = await inbox.next_json()
            assert reply["result"] == "accepted", reply
            answered += 1
        daemon.proc.kill()  # requests still queued at the broker and in the gateway's hands
    return answered


async def test_sigkill_during_a_burst_of_intents_leaves_each_complete_or_absent(
    broker: Broker, tmp_path: Path
) -> None:
    rng = random.Random(20261204)
    toml = tmp_path / "gw.toml"
    toml.write_text(CONFIG)
    args = GatewayArgs(tmp_path / "state", mqtt_url=broker.url, extra=("--config", str(toml)))
    base = int(time.time()) + 3600  # every run lies ahead: the slot reads READY with its start
    first = total_answered = 0
    for _ in range(CYCLES):
        with running(args.argv()) as daemon:
            await asyncio.to_thread(daemon.wait_for, "mqtt connected")
            await asyncio.to_thread(daemon.wait_for, "gateway running", 30)
            answered = await burst_until_killed(broker, daemon, first, base, rng)
            daemon.stop()
        total_answered += answered
        with running(args.argv()) as daemon:
            await asyncio.to_thread(daemon.wait_for, "gateway running", 30)
            seen = await asyncio.to_thread(slot_read_back, args.mms_port)
        number = round(seen["values"][0]) // 100  # which request the slot holds, by its first value
        assert first + answered - 1 <= number < first + BURST, (answered, seen)
        assert seen == expected(number, base + number * INTERVAL_S)  # all of that one, nothing of another
        with opened(f"file:{args.state_dir / STORE_FILE}?mode=ro", uri=True) as db:
            keys = dict(db.execute("SELECT ref, key FROM intent_key"))
        assert keys == {f"{LD}/{FSCH}": "mqtt-ems/request"}
        with opened(f"file:{args.state_dir / AUDIT_FILE}?mode=ro", uri=True) as db:
            query = "SELECT COUNT(*) FROM audit WHERE command = ? AND protocol = ? AND result = ?"
            (audited,) = db.execute(query, ("intent", "mqtt-ems", "accepted")).fetchone()
        assert audited >= total_answered  # audited before the reply left
        first += BURST
