"""SunSpec inverters steered by the real daemon: SCADA writes schedules over MMS (open61850), the gateway
writes the inverter's registers over Modbus TCP (our simulator), the inverter falls back by itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relevent.demo.sunspec_inverter import Quirks, SimulatedInverter
from relevent.lan.sunspec.models import CONTROLS, DER_CONTROLS
from relevent.ports import free_port
from tests.integration.gateway import KW, Gateway, Schedule, gateway, next_second, scada_programs
from tests.mosquitto import Broker, mqtt_client

pytestmark = pytest.mark.slow

WAIT_S = 20.0  # generous: the full suite shares two cores


LIMIT = 'w_max_lim = "@Control/MaxPow_FSCC1"'
SETPOINT = 'w_set = "@Control/ActPow_FSCC1"\non = "@Control/OnOff_FSCC1"'


def config(port: int, *, bindings: str = LIMIT, heartbeat_s: float = 60.0, quirks: str = "") -> str:
    return f"""
[mqtt]
heartbeat_s = {heartbeat_s}

[[devices]]
id = "pv1"
class = "pv_inverter"
protocol = "sunspec"
{bindings}
sunspec = {{ host = "127.0.0.1", port = {port}, unit = 1, poll_s = 0.2, timeout_s = 1.0{quirks} }}
"""


async def until(condition: Callable[[], bool], what: str, wait_s: float = WAIT_S) -> None:
    """Poll the simulator's registers (they change on the gateway's writes and on its own timers)."""
    deadline = time.monotonic() + wait_s
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def serving(inverter: SimulatedInverter) -> int:
    port = free_port()
    await inverter.server.start("127.0.0.1", port)
    return port


def limit_pct(inverter: SimulatedInverter) -> float | None:
    enabled = inverter.value_raw(DER_CONTROLS, "WMaxLimPctEna") == 1
    return inverter.value(DER_CONTROLS, "WMaxLimPct") if enabled else None


@pytest.mark.parametrize("quirks", ["", ", single_register_writes = true"], ids=["fc16", "fc06-only"])
async def test_a_maximum_power_schedule_reaches_wmaxlimpct_at_each_boundary(
    broker: Broker, tmp_path: Path, quirks: str
) -> None:
    inverter = SimulatedInverter(quirks=Quirks(refuse_fc16=bool(quirks)))  # rated 10 kW: 1 kW is 10 %
    port = await serving(inverter)
    try:
        with gateway(broker, tmp_path, config(port, quirks=quirks)) as gw:
            await until(lambda: limit_pct(inverter) == 0.0, "the reserve's 0 kW")
            start = next_second(1.5)
            await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [5, 3, 4], start, prio=50))
            for expected in (50.0, 30.0, 40.0):
                await until(lambda e=expected: limit_pct(inverter) == e, f"{expected} %")  # type: ignore[misc]
            assert inverter.power_w == 4000
    finally:
        await inverter.server.stop()


async def test_w_set_reaches_704_and_off_disconnects(broker: Broker, tmp_path: Path) -> None:
    inverter = SimulatedInverter()
    port = await serving(inverter)
    try:
        with gateway(broker, tmp_path, config(port, bindings=SETPOINT)) as gw:
            start = next_second(1.5)
            await scada_programs(
                gw.mms_port,
                Schedule("ActPow_FSCH01", [2.5, 2.5], start, intv_s=2, prio=50),
                Schedule("OnOff_FSCH01", [True, False], start, intv_s=2, prio=50),
            )
            await until(lambda: inverter.value(DER_CONTROLS, "WSet") == 2.5 * KW, "WSet 2.5 kW")
            await until(lambda: inverter.value_raw(CONTROLS, "Conn") == 0, "disconnected (123 Conn)")
            await until(lambda: inverter.power_w == 0, "no output while off")
    finally:
        await inverter.server.stop()


async def test_after_sigkill_of_the_gateway_the_inverter_reverts_to_the_reserve_by_itself(
    broker: Broker, tmp_path: Path
) -> None:
    inverter = SimulatedInverter()
    port = await serving(inverter)
    try:
        # validity two heartbeats: 2 s; the reserve of MaxPow is 0 kW in the default model
        with gateway(broker, tmp_path, config(port, heartbeat_s=1.0)) as gw:
            start = next_second(1.5)
            await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [5], start, intv_s=3600, prio=50))
            await until(lambda: limit_pct(inverter) == 50.0, "50 %")
            assert inverter.value(DER_CONTROLS, "WMaxLimPctRvrt") == 0.0  # where it falls back to
            await until(lambda: inverter.power_w == 5000, "5 kW")
            gw.daemon.proc.kill()
            killed = time.monotonic()
            await until(lambda: inverter.power_w == 0, "the reversion to 0 kW", wait_s=10.0)
            assert time.monotonic() - killed < 5.0  # the lease ran out: at most one validity (2 s) late
    finally:
        await inverter.server.stop()


async def health(gw: Gateway, device: str, state: str) -> None:
    series = f'device="{device}",health="{state}",protocol="sunspec"'
    await until_async(lambda: gw.samples("relevent_device_health").get(series) == 1.0, f"{device} {state}")


async def until_async(condition: Callable[[], bool], what: str, wait_s: float = WAIT_S) -> None:
    """`until` for a condition that blocks (an HTTP scrape): asked in a thread."""
    deadline = time.monotonic() + wait_s
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_an_inverter_back_from_a_power_cut_is_rescanned_and_limited_again_within_2_s(
    broker: Broker, tmp_path: Path
) -> None:
    inverter = SimulatedInverter()
    port = await serving(inverter)
    with gateway(broker, tmp_path, config(port)) as gw:
        start = next_second(1.5)
        await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [5], start, intv_s=3600, prio=50))
        await until(lambda: limit_pct(inverter) == 50.0, "50 %")
        await inverter.server.stop()
        await health(gw, "pv1", "unreachable")
        restarted = SimulatedInverter()  # its registers as after a power cut: no limit
        await restarted.server.start("127.0.0.1", port)
        back = time.monotonic()
        try:
            await until(lambda: limit_pct(restarted) == 50.0, "50 % again")
            assert time.monotonic() - back < 2.0
        finally:
            await restarted.server.stop()


async def test_a_dead_inverter_leaves_the_mqtt_devices_boundaries_on_time(
    broker: Broker, tmp_path: Path
) -> None:
    dead = free_port()  # nobody listens: every connect fails, every backoff runs out
    bat1 = '\n[[devices]]\nid = "bat1"\nclass = "battery"\nw_set = "@Control/ActPow_FSCC1"\n'
    toml = config(dead, bindings='w_set = "@Control/ActPow_FSCC1"') + bat1
    async with mqtt_client(broker, "relevent/v1/gw1/dev/bat1/ctl/set") as (_, inbox):
        with gateway(broker, tmp_path, toml) as gw:
            await health(gw, "pv1", "unreachable")
            start = next_second(1.5)
            values = [1.0, 2.0, 3.0, 4.0]
            await scada_programs(gw.mms_port, Schedule("ActPow_FSCH01", values, start, prio=50))
            arrivals: list[float] = []
            while len(arrivals) < len(values):
                command = await inbox.next_json(WAIT_S)
                if command["w_set"] in [v * KW for v in values]:
                    arrivals.append(time.time() - start)
    late = [at - k for k, at in enumerate(arrivals)]
    assert all(-0.01 <= lateness < 0.25 for lateness in late), late  # a boundary's budget on a loaded machine
