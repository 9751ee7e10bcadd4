"""The daemon rides out a broker restart mid-schedule, garbage on every inbound topic, a flooding device
and a dead one."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import pytest

from relevent.scheduler.engine import EARLY_TOLERANCE
from tests.daemon import run_cli
from tests.integration.gateway import (
    AVAIL,
    COMMANDS,
    KW,
    ROOT,
    Schedule,
    device_and_gateway,
    gateway,
    next_second,
    scada_programs,
)
from tests.mosquitto import Broker, mqtt_client

pytestmark = pytest.mark.slow

QUIET = "[mqtt]\nheartbeat_s = 60\n"
OUTAGE_S = 4.0  # longer than the first reconnect attempts: the gateway must keep trying often enough
RECOVERY_S = 2.0
VALUES = [1.0 + i for i in range(16)]  # kW
LATE_S = 0.25  # a boundary's command leaves within milliseconds; the margin is for a loaded test machine
EARLY_S = EARLY_TOLERANCE + 0.001  # the engine acts up to EARLY_TOLERANCE before an instant


async def test_after_a_broker_restart_mid_schedule_the_device_gets_the_current_command_within_2_s(
    broker: Broker, tmp_path: Path
) -> None:
    with gateway(broker, tmp_path, QUIET) as gw:
        async with mqtt_client(broker, COMMANDS) as (_, inbox):
            start = next_second(1.0)
            await scada_programs(gw.mms_port, Schedule("ActPow_FSCH01", VALUES, start))
            # Past the reserve's command the gateway may have sent on connecting, after we subscribed.
            scheduled = await inbox.until(lambda m: json.loads(m.payload)["w_set"] != 0.0, 5)
            assert json.loads(scheduled.payload)["w_set"] == VALUES[0] * KW
            assert (await inbox.next_json(2))["w_set"] == VALUES[1] * KW
        broker.kill()
        await asyncio.sleep(OUTAGE_S)  # the outage itself, not a wait for the code under test
        broker.start()
        back = time.time()
        async with mqtt_client(broker, COMMANDS) as (device, inbox):
            # What a device does after its own reconnect: announce itself (retained, as its last will is).
            await device.publish(AVAIL, b'{"state":"online"}', qos=1, retain=True)
            command = await inbox.next_json(RECOVERY_S)
            arrived = time.time()
        assert gw.daemon.proc.poll() is None
    assert arrived - back < RECOVERY_S
    # The value in force when the command left (a boundary may have passed while it travelled).
    in_force = {VALUES[math.floor(t - start)] * KW for t in (arrived - 0.1, arrived)}
    assert command["w_set"] in in_force


GARBAGE = [
    b"",
    b"\xff\xfe\x00",
    b"not json",
    b"null",
    b"[1, 2]",
    b'{"ts": "yesterday", "w": "lots", "state": 7, "id": 1, "result": "maybe"}',
    b'{"id": "7c1e8c4e-6c6a-4c4e-9a8e-0d1f6b0f3a11", "result": "accepted"}',  # an ack of no command
    b"{" * 65536,
]
EMS = "site/ems/request"


async def test_garbage_on_every_inbound_topic_is_dropped_counted_and_the_gateway_keeps_serving(
    broker: Broker, tmp_path: Path
) -> None:
    config = f'{QUIET}ems_request_topic = "{EMS}"\nems_slot = "@Control/ActPow_FSCH10"\n'
    config += f"ems_request_burst = {len(GARBAGE)}\n"  # all at once: beyond the default burst of 5
    topics = [f"{ROOT}/{leaf}" for leaf in ("ctl/ack", "meas", "state", "avail")]
    topics += ["relevent/v1/gw1/dev/nobody/meas", EMS]
    async with device_and_gateway(broker, tmp_path, config, f"{EMS}/reply") as (gw, device, inbox):
        for topic in topics:
            for payload in GARBAGE:
                await device.publish(topic, payload, qos=1)
        replies = [await inbox.next_json() for _ in GARBAGE]
        assert {r["result"] for r in replies} == {"rejected"}
        rejected = await gw.counted("relevent_mqtt_inbound_rejected_total", len(topics) * len(GARBAGE))
        await device.publish(AVAIL, b'{"state":"online"}', qos=1, retain=True)
        command = await inbox.next_json()
        assert gw.daemon.proc.poll() is None
    assert sum(rejected.values()) == len(topics) * len(GARBAGE)
    assert {labels.split(",")[0] for labels, count in rejected.items() if count} == {
        'kind="ack"',
        'kind="meas"',
        'kind="state"',
        'kind="avail"',
        'kind="request"',
    }
    assert rejected['kind="meas",reason="unknown_device"'] == len(GARBAGE)
    assert command["w_set"] == 0.0


FLOOD = 3000
VALID_MEAS = b'{"ts": "2026-11-26T10:00:00Z", "w": 1500.0}'


async def test_a_flooding_device_is_cut_to_its_message_rate_and_its_schedule_keeps_time(
    broker: Broker, tmp_path: Path
) -> None:
    config = f"{QUIET}device_msg_rate = 5.0\ndevice_msg_burst = 10\n"
    async with device_and_gateway(broker, tmp_path, config) as (gw, device, inbox):
        start = next_second(1.5)
        await scada_programs(gw.mms_port, Schedule("ActPow_FSCH01", VALUES[:4], start, prio=90))

        async def flood() -> None:
            for n in range(FLOOD):
                await device.publish(f"{ROOT}/meas", b"garbage" if n % 10 == 0 else VALID_MEAS, qos=0)
                if n % 100 == 0:
                    await asyncio.sleep(0)  # let the device's own client read its commands meanwhile

        await asyncio.sleep(max(0.0, start - 0.5 - time.time()))  # flood across the first boundaries
        flooding = asyncio.create_task(flood())
        arrivals = []
        for _ in VALUES[:4]:
            command = await inbox.next_json(2.0)
            arrivals.append((command["w_set"], time.time()))
        await flooding
        # Admitted at most 10 + 5/s over the test: far below half of the flood, which must be dropped unread.
        limited = await gw.counted("relevent_mqtt_inbound_rate_limited_total", FLOOD // 2)
        assert gw.daemon.proc.poll() is None
    assert [value for value, _ in arrivals] == [v * KW for v in VALUES[:4]]
    # Each command within its own entry, the flood notwithstanding.
    assert all(0 <= at - (start + k) < 1 for k, (_, at) in enumerate(arrivals))
    assert limited['source="DER_Scheduler_Control"'] >= FLOOD // 2


async def test_a_dead_device_holds_back_no_other_devices_boundaries(broker: Broker, tmp_path: Path) -> None:
    site = tmp_path / "site.cid"
    assert run_cli("scl", "generate", "-o", site, "--devices", "3").returncode == 0
    dead, live = "DER_Scheduler_Control", "DER_Scheduler_Control3"  # and Control2: nobody there either
    config = f"{QUIET}ack_timeout_s = 0.5\n"
    with gateway(broker, tmp_path, config, scl=site) as gw:
        async with mqtt_client(broker, f"relevent/v1/gw1/dev/{live}/ctl/set") as (_, inbox):
            start = next_second(1.5)
            values = VALUES[:4]
            await scada_programs(gw.mms_port, *(Schedule("ActPow_FSCH01", values, start, prio=90, ld=ld)
                                               for ld in (dead, "DER_Scheduler_Control2", live)))  # fmt: skip
            arrivals = []
            for _ in values:
                command = await inbox.next_json(max(0.0, start - time.time()) + 2.0)
                arrivals.append((command["w_set"], time.time()))
            missing = await gw.counted("relevent_mqtt_acks_missing_total", len(values))
    assert [value for value, _ in arrivals] == [v * KW for v in values]
    assert all(-EARLY_S <= at - (start + k) < LATE_S for k, (_, at) in enumerate(arrivals)), arrivals
    assert missing[f'device="{dead}"'] >= 2  # the gateway noticed the dead device meanwhile
