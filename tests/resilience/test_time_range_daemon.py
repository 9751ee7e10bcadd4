"""A time the gateway cannot represent never reaches its state, and a stored one never stops a start.

The real daemon, broker and MMS client: an EMS request starting in the year 11476 is refused; a store row
holding such a time (as a gateway before this check could write it) is dropped at the next start, logged
and audited, and the gateway serves.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from relevent.app import STORE_FILE
from tests.db import opened
from tests.integration.gateway import LD, connect, device_and_gateway, gateway, read
from tests.integration.test_mqtt_ems import CONFIG, REPLIES, REQUESTS, request
from tests.mosquitto import Broker

pytestmark = pytest.mark.slow

SLOT = f"{LD}/ActPow_FSCH05"
START = "ActPow_FSCH05$SP$StrTm01$setTm"
POISON = 1e15  # "A stored row with set_tm 1e15"


def _poison(store: Path) -> None:
    with opened(store) as db:
        (data,) = db.execute("SELECT data FROM schedule WHERE ref = ?", (SLOT,)).fetchone()
        row = json.loads(data)
        row["params"]["starts"][0]["set_tm"] = POISON
        db.execute("UPDATE schedule SET data = ? WHERE ref = ?", (json.dumps(row), SLOT))


def _scada_reads(port: int, item: str) -> object:
    client = connect(port)
    try:
        return read(client, item)
    finally:
        client.close()


async def test_a_poisoned_request_is_refused_and_a_poisoned_row_does_not_stop_the_restart(
    broker: Broker, tmp_path: Path
) -> None:
    async with device_and_gateway(broker, tmp_path, CONFIG, REPLIES) as (gw, ems, inbox):
        await ems.publish(REQUESTS, request("EXPORT", [1500], start=300_000_000_000), qos=1)
        refused = await inbox.next_json()
        assert await asyncio.to_thread(_scada_reads, gw.mms_port, START) == 0  # nothing was written
    assert (refused["result"], refused["reason"]) == ("rejected", "invalid_payload")

    _poison(tmp_path / "state" / STORE_FILE)  # what the request wrote before the check existed
    with gateway(broker, tmp_path, CONFIG) as gw:  # "gateway running": it starts and serves
        assert await asyncio.to_thread(_scada_reads, gw.mms_port, START) == 0  # the SCL's state
        warning = gw.daemon.wait_for("stored state unreadable, dropped")
        audit = gw.daemon.wait_for("audit")
    assert warning["ref"] == SLOT
    assert "set_tm 1000000000000000.0 is outside the representable range" in warning["problem"]
    assert (audit["command"], audit["object"], audit["result"]) == ("restore", SLOT, "dropped")
    assert audit["reason"] == warning["problem"]
