"""Proxy mode in the real daemon: a station stays on its operator's CSMS, the SCADA's limit wins."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.ports import free_port
from tests.integration.gateway import KW, Schedule, gateway, next_second, scada_programs
from tests.integration.test_device_layer import WAIT_S, health_of
from tests.lan.ocpp.upstream import operator_csms
from tests.mosquitto import Broker

pytestmark = pytest.mark.slow


def config(ocpp_port: int, operator_port: int) -> str:
    return f"""
[ocpp]
host = "127.0.0.1"
port = {ocpp_port}
stations = {{ cs-1 = {{ upstream_url = "ws://127.0.0.1:{operator_port}/csms" }} }}

[[devices]]
id = "cs-1"
class = "ev_charger"
protocol = "ocpp"
w_max_lim = "@Control/MaxPow_FSCC1"
"""


async def test_the_operator_keeps_the_station_and_the_grid_limit_wins(
    broker: Broker, tmp_path: Path
) -> None:
    station = SimulatedStation(StationOptions(station_id="cs-1", meter_interval_s=0.5))
    async with operator_csms() as csms:
        # picked after the operator listens: the kernel may give the operator's port-0 bind a port that
        # was just picked and released, and the station would dial the operator past the gateway
        ocpp_port = free_port()
        with gateway(broker, tmp_path, config(ocpp_port, csms.port)) as gw:
            runner = asyncio.create_task(station.run(f"ws://127.0.0.1:{ocpp_port}/ocpp/cs-1"))
            try:
                await csms.wait(lambda: "TransactionEvent" in csms.actions(), WAIT_S)
                assert csms.actions()[0] == "BootNotification"
                assert csms.session is not None
                tx = station.evses[1].transaction_id
                session = csms.session
                mine = await session.set_profile(7, "TxProfile", 3, 11000.0, evse_id=1, transaction_id=tx)
                theirs = await session.set_profile(8, "ChargingStationMaxProfile", 5, 11000.0)
                assert (mine.status, theirs.status) == ("Accepted", "Rejected")
                five_kw = Schedule("MaxPow_FSCH01", [5], next_second(1.5), intv_s=600)
                await scada_programs(gw.mms_port, five_kw)
                # the station's EV draws the SCADA's 5 kW, not the operator's 11
                await station.wait_until(lambda: station.power_w() == 5 * KW, WAIT_S)
                await health_of(gw, "cs-1", "ocpp", "applied")
                refused = await asyncio.to_thread(gw.samples, "relevent_ocpp_upstream_refused_total")
                assert refused == {'action="SetChargingProfile",station="cs-1"': 1.0}
                connected = await asyncio.to_thread(gw.samples, "relevent_ocpp_upstream_connected")
                assert connected == {'station="cs-1"': 1.0}
            finally:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
