"""SCADA schedules over MMS become device commands over MQTT: the real daemon, mosquitto and open61850."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from relevent.scheduler.engine import EARLY_TOLERANCE
from tests.integration.gateway import AVAIL, KW, LD, Schedule, device_and_gateway, next_second, scada_programs
from tests.mosquitto import Broker, Inbox

pytestmark = pytest.mark.slow

QUIET = "[mqtt]\nheartbeat_s = 60\n"  # no keep-alive command in the middle of what a test counts
# A boundary's command leaves the gateway within milliseconds; the margin is for a loaded test machine.
LATE_S = 0.25
# The engine acts on an instant up to EARLY_TOLERANCE before it, and `ts` is written in whole milliseconds.
EARLY_S = EARLY_TOLERANCE + 0.001
RESERVE = {"schedule": f"{LD}/ActPow_Res_FSCH01", "prio": 0}


async def timed(inbox: Inbox, wait_s: float = 5.0) -> tuple[dict[str, Any], float]:
    """The next command and the wall time it arrived."""
    command = await inbox.next_json(wait_s)
    return command, time.time()


async def test_a_schedule_enabled_over_mms_sends_each_entry_at_its_boundary(
    broker: Broker, tmp_path: Path
) -> None:
    async with device_and_gateway(broker, tmp_path, QUIET) as (gw, _, inbox):
        start = next_second(1.5)
        await scada_programs(gw.mms_port, Schedule("ActPow_FSCH01", [1, 2, 3], start, prio=50))
        received = [await timed(inbox) for _ in range(4)]
    source = {"schedule": f"{LD}/ActPow_FSCH01", "prio": 50}
    assert [(c["w_set"], c["src"]["w_set"]) for c, _ in received] == [
        (1 * KW, source),
        (2 * KW, source),
        (3 * KW, source),
        (0.0, RESERVE),
    ]
    for entry, (command, arrived) in enumerate(received):
        assert -EARLY_S <= arrived - (start + entry) < LATE_S, (entry, arrived - start)
        assert -EARLY_S <= datetime.fromisoformat(command["ts"]).timestamp() - (start + entry) < LATE_S
    assert [c["seq"] for c, _ in received] == list(range(received[0][0]["seq"], received[0][0]["seq"] + 4))


async def test_active_power_maximum_power_and_on_off_combine_into_one_command(
    broker: Broker, tmp_path: Path
) -> None:
    async with device_and_gateway(broker, tmp_path, QUIET) as (gw, _, inbox):
        start = next_second(1.5)
        await scada_programs(
            gw.mms_port,
            Schedule("ActPow_FSCH01", [1, 2], start, prio=50),
            Schedule("MaxPow_FSCH02", [5, 6], start, prio=40),
            Schedule("OnOff_FSCH03", [True, False], start, prio=30),
        )
        received = [await timed(inbox) for _ in range(3)]
        with pytest.raises(TimeoutError):  # nothing but one command per change of the whole intent
            await inbox.next(0.5)
    fields = [(c["w_set"], c["w_max_lim"], c["on"]) for c, _ in received]
    assert fields[:2] == [(1 * KW, 5 * KW, True), (2 * KW, 6 * KW, False)]
    assert fields[2][0] == 0.0
    assert received[0][0]["src"] == {
        "w_set": {"schedule": f"{LD}/ActPow_FSCH01", "prio": 50},
        "w_max_lim": {"schedule": f"{LD}/MaxPow_FSCH02", "prio": 40},
        "on": {"schedule": f"{LD}/OnOff_FSCH03", "prio": 30},
    }
    assert received[2][0]["src"]["w_set"] == RESERVE
    for entry, (_, arrived) in enumerate(received):
        assert -EARLY_S <= arrived - (start + entry) < LATE_S, (entry, arrived - start)


async def test_heartbeats_repeat_the_command_every_heartbeat_s(broker: Broker, tmp_path: Path) -> None:
    async with device_and_gateway(broker, tmp_path, "[mqtt]\nheartbeat_s = 0.5\n") as (_gw, _, inbox):
        received = [await timed(inbox, 1.0) for _ in range(5)]
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(received)]
    assert all(0.4 < gap < 0.6 for gap in gaps), gaps
    for command, _ in received:
        assert command["w_set"] == 0.0
        valid_for = datetime.fromisoformat(command["valid_until"]) - datetime.fromisoformat(command["ts"])
        assert valid_for.total_seconds() == 1.0  # two heartbeats


async def test_a_device_that_comes_online_gets_the_current_command_at_once(
    broker: Broker, tmp_path: Path
) -> None:
    async with device_and_gateway(broker, tmp_path, QUIET) as (_gw, device, inbox):
        with pytest.raises(TimeoutError):  # nothing after the command sent on connect
            await inbox.next(0.3)
        asked = time.time()
        await device.publish(AVAIL, b'{"state":"online"}', qos=1, retain=True)
        command, arrived = await timed(inbox)
    assert arrived - asked < LATE_S
    assert (command["w_set"], command["src"]["w_set"]) == (0.0, RESERVE)
