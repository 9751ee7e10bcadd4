"""Stations steered by the real daemon: SIGKILL leaves them on the reserve; a 2.1 V2X EV discharges."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.ports import free_port
from tests.integration.gateway import KW, Schedule, gateway, next_second, scada_programs
from tests.integration.test_device_layer import WAIT_S, health_of
from tests.mosquitto import Broker

pytestmark = pytest.mark.slow

HORIZON_S = 60  # the steered profile's length: a dead gateway leaves the station on the reserve after it
OFFLINE_S = 5  # 2.1: how long a steered profile outlives the gateway's connection
SERIES = 'device="cs-1",protocol="ocpp"'


def one_station(port: int, setting: str, binding: str) -> str:
    """The daemon's TOML for the station cs-1: one `[ocpp]` setting and the field it follows."""
    return f"""
[ocpp]
host = "127.0.0.1"
port = {port}
{setting}

[[devices]]
id = "cs-1"
class = "ev_charger"
protocol = "ocpp"
{binding}
"""


@pytest.mark.parametrize("version", ["2.1", "2.0.1", "1.6"])
async def test_after_sigkill_of_the_gateway_the_station_ends_on_the_reserve_never_unlimited(
    broker: Broker, tmp_path: Path, version: str
) -> None:
    port = free_port()
    config = one_station(port, f"horizon_s = {HORIZON_S}", 'w_max_lim = "@Control/MaxPow_FSCC1"')
    station = SimulatedStation(StationOptions(station_id="cs-1", version=version))
    with gateway(broker, tmp_path, config) as gw:
        runner = asyncio.create_task(station.run(f"ws://127.0.0.1:{port}/ocpp/cs-1"))
        try:
            await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [7], next_second(1.5), intv_s=3600))
            await station.wait_until(lambda: 7 * KW - 69 < station.limit_w(1) <= 7 * KW, WAIT_S)
            gw.daemon.proc.kill()
            killed = time.time()
            await station.wait_until(lambda: station.connection is None, WAIT_S)  # it saw the CSMS go
            # What the station holds runs on by itself: the steered 7 kW to the horizon's end, then the
            # reserve (the model's MaxPow reserve: 0 kW), for ever.
            assert 7 * KW - 69 < station.limit_w(1, killed + 1) <= 7 * KW
            assert station.limit_w(1, killed + HORIZON_S + 1) == 0.0
            assert station.limit_w(1, killed + 7 * 86400) == 0.0
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


async def test_an_injection_schedule_discharges_a_v2x_ev_and_a_dead_gateway_ends_the_discharge(
    broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    config = one_station(port, f"max_offline_s = {OFFLINE_S}", 'w_set = "@Control/ActPow_FSCC1"')
    options = StationOptions(station_id="cs-1", version="2.1", v2x=True, meter_interval_s=1.0)
    station = SimulatedStation(options)
    with gateway(broker, tmp_path, config) as gw:
        runner = asyncio.create_task(station.run(f"ws://127.0.0.1:{port}/ocpp/cs-1"))
        try:
            # the aggregator asks for 4 kW of injection: the EV discharges it, metered as export
            await scada_programs(gw.mms_port, Schedule("ActPow_FSCH01", [4], next_second(1.5), intv_s=3600))
            await station.wait_until(lambda: station.evses[1].reported_w == -4 * KW, WAIT_S)
            period = station.store.profiles[3].schedule["charging_schedule_period"][-1]  # from the start on
            assert (period["operation_mode"], period["setpoint"]) == ("CentralSetpoint", -4 * KW)
            await health_of(gw, "cs-1", "ocpp", "applied")
            deadline = time.monotonic() + WAIT_S  # the gateway reads the export as injection
            while (await asyncio.to_thread(gw.samples, "relevent_device_power_watts")).get(SERIES) != 4 * KW:
                assert time.monotonic() < deadline, "the export never showed as injection"
                await asyncio.sleep(0.1)
            gw.daemon.proc.kill()
            await station.wait_until(lambda: station.connection is None, WAIT_S)
            gone = station.store.offline_since
            assert gone is not None
            # the discharge outlives the gateway for the offline duration, then the reserve: no export
            assert station.limit_w(1, gone + 1) == -4 * KW
            assert station.limit_w(1, gone + OFFLINE_S + 1) >= 0.0
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
