"""The IEC 104 outstation of the real daemon: a c104 client as the SCADA, MMS (open61850) beside it, the
device on MQTT; frames checked with the independent decoder iec60870-parser.

No `from __future__ import annotations`: c104 checks the raw-frame callback's signature as text.
"""

import asyncio
import functools
import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import c104
import pytest
from iec60870 import parse_asdu  # type: ignore[import-untyped]

from relevent.ports import free_port
from tests.iec104.link import link_up
from tests.integration.gateway import KW, LD, Schedule, connect, gateway, next_second, read, scada_programs
from tests.mosquitto import Broker, mqtt_client

pytestmark = pytest.mark.slow

BAT1 = "relevent/v1/gw1/dev/bat1/ctl/set"
WAIT_S = 20.0
SETPOINT, RELEASE, SWITCH, OUTPUT, RUNNING, OVERRIDDEN = 3001, 3011, 3010, 2002, 2012, 2013
MEASURED, REACHABLE = 2001, 2010
M_SP_NA_1, M_ME_NC_1, C_IC_NA_1 = 1, 13, 100  # type identifications
TAGGED, NOT_MINE, UNKNOWN = 3002, 3003, 3999  # a time-tagged setpoint, ActPow (no slot of dso), no point


def config(port: int, extra: str = "") -> str:
    return f"""
[mqtt]
heartbeat_s = 60

[[devices]]
id = "bat1"
class = "battery"
w_max_lim = "@Control/MaxPow_FSCC1"
on = "@Control/OnOff_FSCC1"

[[actors]]
name = "dso"
band = [60, 69]
slots = ["@Control/MaxPow_FSCH03", "@Control/OnOff_FSCH03"]

[[policy]]
actor = "dso"
schedules = ["@Control/MaxPow_FSCH03", "@Control/OnOff_FSCH03"]
max_priority = 69

[iec104]
enabled = true
host = "127.0.0.1"
port = {port}
actor = "dso"
{extra}
[[iec104.points]]
ioa = {SETPOINT}
type = "C_SE_NC_1"
target = "@Control/MaxPow_FSCC1"
function = "MaxPow"
min = 0.0
max = 50.0
units = "kW"

[[iec104.points]]
ioa = {TAGGED}
type = "C_SE_TC_1"
target = "@Control/MaxPow_FSCC1"
function = "MaxPow"

[[iec104.points]]
ioa = {NOT_MINE}
type = "C_SE_NC_1"
target = "@Control/ActPow_FSCC1"
function = "ActPow"

[[iec104.points]]
ioa = {RELEASE}
type = "C_SC_NA_1"
target = "@Control/MaxPow_FSCC1"
function = "MaxPow"
release = true

[[iec104.points]]
ioa = {SWITCH}
type = "C_SC_NA_1"
target = "bat1"
function = "OnOff"
select_before_operate = true
refuse_when_unreachable = true

[[iec104.points]]
ioa = {OUTPUT}
type = "M_ME_NC_1"
target = "@Control/MaxPow_FSCC1"
show = "output"

[[iec104.points]]
ioa = {RUNNING}
type = "M_SP_NA_1"
target = "@Control/MaxPow_FSCC1"
show = "running"

[[iec104.points]]
ioa = {MEASURED}
type = "M_ME_NC_1"
target = "bat1"
show = "measured"
units = "W"

[[iec104.points]]
ioa = {REACHABLE}
type = "M_SP_NA_1"
target = "bat1"
show = "reachable"

[[iec104.points]]
ioa = {OVERRIDDEN}
type = "M_SP_NA_1"
target = "@Control/MaxPow_FSCC1"
show = "overridden"
"""


class Scada:
    """A c104 client: commands, the monitored objects it received, and every ASDU decoded independently."""

    def __init__(self, port: int, *, select: bool = True) -> None:
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=5000)
        connection = self.client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
        assert connection is not None
        self.connection = connection
        station = self.connection.add_station(common_address=1)
        assert station is not None

        def point(ioa: int, kind: c104.Type) -> c104.Point:
            added = station.add_point(io_address=ioa, type=kind)
            assert added is not None
            return added

        self.commands = {ioa: point(ioa, kind) for ioa, kind in (
            (SETPOINT, c104.Type.C_SE_NC_1), (RELEASE, c104.Type.C_SC_NA_1), (SWITCH, c104.Type.C_SC_NA_1),
            (TAGGED, c104.Type.C_SE_TC_1), (NOT_MINE, c104.Type.C_SE_NC_1), (UNKNOWN, c104.Type.C_SE_NC_1))}
        if select:
            self.commands[SWITCH].command_mode = c104.CommandMode.SELECT_AND_EXECUTE
        self.monitored = {ioa: point(ioa, kind) for ioa, kind in (
            (OUTPUT, c104.Type.M_ME_NC_1), (RUNNING, c104.Type.M_SP_NA_1), (OVERRIDDEN, c104.Type.M_SP_NA_1),
            (MEASURED, c104.Type.M_ME_NC_1), (REACHABLE, c104.Type.M_SP_NA_1))}
        self.frames: list[dict[str, Any]] = []
        self.test_frames = 0  # TESTFR act received: the outstation's t3 keep-alive
        self._lock = threading.Lock()
        self.connection.on_receive_raw(callable=self._on_raw)

    def _on_raw(self, connection: c104.Connection, data: bytes) -> None:  # noqa: ARG002 - c104's signature
        if len(data) > 6 and data[2] & 1 == 0:  # an I-frame: its ASDU follows the 6 octets of APCI
            with self._lock:
                self.frames.append(parse_asdu(data[6:]))
        elif len(data) == 6 and data[2] == 0x43:  # U-frame TESTFR act
            self.test_frames += 1

    def confirmations(self, ioa: int, cause: int = 7) -> list[bool]:
        """The ACT_CONs (COT 7; or another `cause`) received for `ioa`: True positive, False negative."""
        with self._lock:
            frames = list(self.frames)
        found = []
        for frame in frames:
            cot = int(frame["cot"])
            first = (frame.get("information_objects") or [{}])[0]  # the decoder reads the first IOA right
            if cot & 0x3F == cause and first.get("ioa") == ioa:
                found.append(not cot & 0x40)
        return found

    async def send(self, ioa: int, value: float | bool) -> bool:
        point = self.commands[ioa]
        point.value = value
        return bool(await asyncio.to_thread(point.transmit, c104.Cot.ACTIVATION))

    async def send_tagged(self, ioa: int, value: float, issued: float) -> bool:
        """A time-tagged setpoint issued at `issued` (epoch s); c104 reads a naive time as local time."""
        point = self.commands[ioa]
        point.info = c104.ShortCmd(target=value, recorded_at=datetime.fromtimestamp(issued))  # noqa: DTZ006
        return bool(await asyncio.to_thread(point.transmit, c104.Cot.ACTIVATION))

    async def interrogate(self) -> list[dict[str, Any]]:
        """A station interrogation; the ASDUs sent for it (COT 20), once it terminated.

        Its ACT_CON and ACT_TERM are read off the wire (c104's own wait gives up after its command timeout,
        which a loaded machine reached once).
        """
        with self._lock:
            before = len(self.frames)
        ask = functools.partial(self.connection.interrogation, wait_for_response=False)
        assert await asyncio.to_thread(ask, 1, c104.Cot.ACTIVATION), "the link is down"

        def answers(cause: int) -> list[dict[str, Any]]:
            with self._lock:
                frames = self.frames[before:]
            return [f for f in frames if f["type_id"] == C_IC_NA_1 and int(f["cot"]) & 0x3F == cause]

        await until(lambda: bool(answers(7)), "GI ACT_CON")
        assert [int(f["cot"]) & 0x40 for f in answers(7)] == [0], "GI confirmed negatively"
        await until(lambda: bool(answers(10)), "GI ACT_TERM")
        with self._lock:
            return [frame for frame in self.frames[before:] if int(frame["cot"]) & 0x3F == 20]


def _refused_once(peer: Scada, ioa: int) -> bool:
    return peer.confirmations(ioa) == [False]


def short_floats(frame: dict[str, Any]) -> dict[int, float]:
    """The values of an M_ME_NC_1 ASDU by IOA: the decoder reads the IOAs and leaves each object's float
    (4 octets, IEEE 754) and quality (1) as octets, in order."""
    assert frame["sequence"] or frame["count"] == 1, "objects with their own IOAs: not decoded here"
    objects, rest = frame["information_objects"], frame["unparsed"]
    return {int(o["ioa"]): struct.unpack_from("<f", rest, 5 * i)[0] for i, o in enumerate(objects)}


@contextmanager
def scada(port: int, *, select: bool = True) -> Iterator[Scada]:
    """A connected SCADA."""
    peer = link_up(lambda: Scada(port, select=select), WAIT_S / 3)
    if peer is None:
        pytest.fail("the SCADA never got the link up")
    try:
        yield peer
    finally:
        peer.client.stop()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_setpoint_becomes_the_dsos_intent_and_the_device_follows(
    broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    async with mqtt_client(broker, BAT1) as (_, inbox):
        with gateway(broker, tmp_path, config(port)) as gw, scada(port) as peer:
            assert await peer.send(SETPOINT, 7.5)
            command = await inbox.until(lambda m: json.loads(m.payload)["w_max_lim"] == 7.5 * KW, WAIT_S)
            assert json.loads(command.payload)["src"]["w_max_lim"] == {
                "schedule": f"{LD}/MaxPow_FSCH03", "prio": 60}
            await until(lambda: peer.monitored[OUTPUT].value == pytest.approx(7.5), "the output point")
            await until(lambda: peer.monitored[RUNNING].value is True, "running")
            assert peer.monitored[OVERRIDDEN].value is False
            await until(lambda: peer.confirmations(SETPOINT) == [True], "the positive ACT_CON on the wire")
            await until(lambda: peer.confirmations(SETPOINT, cause=10) == [True], "ACT_TERM once in force")
            interrogated = await peer.interrogate()  # GI: the current state, decoded from the wire
            assert {M_ME_NC_1, M_SP_NA_1} <= {frame["type_id"] for frame in interrogated}
            floats = {ioa: value for f in interrogated if f["type_id"] == M_ME_NC_1
                      for ioa, value in short_floats(f).items()}  # fmt: skip
            assert floats[OUTPUT] == pytest.approx(7.5)
            singles = {o["ioa"]: o["value"] for f in interrogated if f["type_id"] == M_SP_NA_1
                       for o in f["information_objects"]}  # fmt: skip
            assert (singles[RUNNING], singles[OVERRIDDEN]) == (1, 0)
            assert await peer.send(SETPOINT, 5.0)  # 104's "latest wins": the same slot, a new value
            await inbox.until(lambda m: json.loads(m.payload)["w_max_lim"] == 5.0 * KW, WAIT_S)
            # an MMS SCADA at a higher priority wins; the 104 SCADA sees its limit overridden
            start = next_second(1.5)
            await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [2.0], start, intv_s=3, prio=80))
            await until(lambda: peer.monitored[OVERRIDDEN].value is True, "overridden")
            assert peer.monitored[OUTPUT].value == pytest.approx(2.0)
            await until(lambda: peer.monitored[OVERRIDDEN].value is False, "its limit again after MMS's ends")
            assert peer.monitored[OUTPUT].value == pytest.approx(5.0)
            assert await peer.send(RELEASE, True)
            await until(lambda: peer.monitored[RUNNING].value is False, "released")
            await inbox.until(lambda m: json.loads(m.payload)["w_max_lim"] == 0.0, WAIT_S)  # the reserve


async def test_refused_commands_are_answered_negatively_and_change_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    with gateway(broker, tmp_path, config(port)) as gw, scada(port) as peer:
        await until(lambda: peer.monitored[OUTPUT].value == pytest.approx(0.0), "the reserve's output")
        assert not await peer.send(SETPOINT, 80.0)  # above max
        assert not await peer.send(NOT_MINE, 5.0)  # beyond the actor's rights: dso has no ActPow slot
        assert not await peer.send_tagged(TAGGED, 6.0, time.time() - 60)  # older than max_cmd_age_s
        await peer.send(UNKNOWN, 7.0)  # no such object: c104's client sometimes says True, the wire says no
        for ioa in (SETPOINT, NOT_MINE, TAGGED, UNKNOWN):
            await until(partial(_refused_once, peer, ioa), f"a negative ACT_CON for {ioa}")
        await until(lambda: bool(peer.confirmations(UNKNOWN, cause=47)), "c104's 'unknown IOA' beside it")
        audit = [line for line in gw.daemon.lines if line.get("event") == "audit"]
        assert not [line for line in audit if line["result"] == "accepted"]  # nothing placed
        refusals = {line["object"]: line for line in audit if line["protocol"] == "iec104"}
        assert refusals[f"IOA {TAGGED} (@Control/MaxPow_FSCC1)"]["reason"].startswith("time tag 60.")
        assert refusals[f"IOA {TAGGED} (@Control/MaxPow_FSCC1)"]["peer"] == f"127.0.0.1:{port} oa 0"
        assert refusals["@Control/ActPow_FSCC1 key iec104:@Control/ActPow_FSCC1:ActPow"]["result"] == (
            "actor_not_allowed")
        assert peer.monitored[OUTPUT].value == pytest.approx(0.0)
        assert await peer.send_tagged(TAGGED, 6.0, time.time())  # a fresh time tag is taken
        await until(lambda: peer.monitored[OUTPUT].value == pytest.approx(6.0), "6 kW")
        assert await peer.send(SWITCH, False)  # select, then execute; a device id as target
        assert await peer.send(SETPOINT, 3.0)  # the refused value did not stick, later commands work
        await until(lambda: peer.monitored[OUTPUT].value == pytest.approx(3.0), "3 kW")
        counted = await asyncio.to_thread(gw.samples, "relevent_iec104_commands_total")
        assert counted[f'ioa="{SETPOINT}",result="refused"'] == 1.0
        assert counted[f'ioa="{SETPOINT}",result="accepted"'] == 1.0
        assert counted[f'ioa="{NOT_MINE}",result="refused"'] == 1.0
        assert counted[f'ioa="{TAGGED}",result="refused"'] == 1.0


async def test_a_switch_that_needs_a_select_refuses_a_direct_execute(broker: Broker, tmp_path: Path) -> None:
    port = free_port()
    with gateway(broker, tmp_path, config(port)), scada(port, select=False) as peer:
        assert not await peer.send(SWITCH, False)
        await until(lambda: False in peer.confirmations(SWITCH), "a negative ACT_CON on the wire")


async def test_after_the_link_is_lost_the_safe_value_is_placed_as_the_actors_intent(
    broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    policy = '[iec104.on_link_loss]\nafter_s = 1.0\naction = "value"\nvalue = 4.0\n'
    async with mqtt_client(broker, BAT1) as (_, inbox):
        with gateway(broker, tmp_path, config(port, policy)) as gw:
            with scada(port) as peer:
                assert await peer.send(SETPOINT, 9.0)
                await inbox.until(lambda m: json.loads(m.payload)["w_max_lim"] == 9.0 * KW, WAIT_S)
                lost = time.monotonic()  # the link goes down after this, on the way out
            await inbox.until(lambda m: json.loads(m.payload)["w_max_lim"] == 4.0 * KW, WAIT_S)
            assert time.monotonic() - lost >= 1.0
            assert await asyncio.to_thread(mms_view, gw.mms_port) == (4.0, f"{LD}/MaxPow_FSCH03")
            audit = [line for line in gw.daemon.lines if line.get("event") == "audit"]
            assert any(line.get("peer") == "link-loss" and line.get("command") == "intent" for line in audit)


def mms_view(mms_port: int) -> tuple[float, str]:
    """Over MMS: the dso slot's first value and the MaxPow controller's active schedule."""
    client = connect(mms_port)
    try:
        value = read(client, "MaxPow_FSCH03$SP$ValASG001$setMag$f")
        return value, read(client, "MaxPow_FSCC1$ST$ActSchdRef$stVal")
    finally:
        client.close()


async def test_a_redundant_scada_connection_commands_beside_the_main_one(
    broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    with gateway(broker, tmp_path, config(port)) as gw, scada(port) as main, scada(port) as standby:
        connections = await asyncio.to_thread(gw.samples, "relevent_iec104_connections")
        assert connections[""] == 2.0
        assert await standby.send(SETPOINT, 2.5)
        await until(lambda: main.monitored[OUTPUT].value == pytest.approx(2.5), "both see the output")
        assert await asyncio.to_thread(mms_view, gw.mms_port) == (2.5, f"{LD}/MaxPow_FSCH03")


async def test_a_devices_measurement_and_reachability_are_monitored_objects(
    broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    device = "relevent/v1/gw1/dev/bat1"
    async with mqtt_client(broker, BAT1) as (client, _):
        with gateway(broker, tmp_path, config(port, "t3_s = 1\n")), scada(port) as peer:
            assert peer.monitored[MEASURED].quality == c104.Quality.Invalid  # nothing measured yet
            await client.publish(f"{device}/meas", json.dumps({"ts": time.time(), "w": -1500.0}), qos=1)
            await until(lambda: peer.monitored[MEASURED].value == pytest.approx(-1500.0), "the measurement")
            assert peer.monitored[MEASURED].quality == c104.Quality()
            await client.publish(f"{device}/avail", json.dumps({"state": "offline"}), qos=1, retain=True)
            # valid: an invalid False is the "not known yet" of before, under which commands pass
            await until(lambda: peer.monitored[REACHABLE].value is False
                        and peer.monitored[REACHABLE].quality == c104.Quality(), "unreachable")  # fmt: skip
            assert not await peer.send(SWITCH, True)  # refuse_when_unreachable
            await until(lambda: peer.test_frames > 0, "a TESTFR after t3 = 1 s without a frame")
            await client.publish(f"{device}/avail", "", qos=1, retain=True)  # no retained state left behind
