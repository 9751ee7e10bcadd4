"""Devices of different protocols follow the same controller side by side: the real daemon, a SCADA over
MMS (open61850), an MQTT device on mosquitto, charging stations over OCPP 2.0.1 and 1.6J, a SunSpec
inverter and a relay board over Modbus TCP (our simulators)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiomqtt
import pytest

from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.demo.relay_board import SimulatedRelayBoard
from relevent.demo.sunspec_inverter import SimulatedInverter
from relevent.lan.sunspec.models import DER_CONTROLS
from relevent.ports import free_port
from tests.integration.gateway import KW, Gateway, Schedule, gateway, next_second, scada_programs
from tests.mosquitto import Broker, mqtt_client

pytestmark = pytest.mark.slow

BAT1 = "relevent/v1/gw1/dev/bat1/ctl/set"
WAIT_S = 20.0  # generous: the full suite shares two cores


def limit(message: aiomqtt.Message) -> float | None:
    value: float | None = json.loads(message.payload)["w_max_lim"]
    return value


async def health_of(gw: Gateway, device: str, protocol: str, health: str) -> None:
    """Wait until the device's health on `/metrics` is `health` (polled: the daemon has no event for it)."""
    series = f'device="{device}",health="{health}",protocol="{protocol}"'
    deadline = time.monotonic() + WAIT_S
    while (await asyncio.to_thread(gw.samples, "relevent_device_health")).get(series) != 1.0:
        assert time.monotonic() < deadline, f"{device} never {health}"
        await asyncio.sleep(0.1)


def config(ocpp_port: int, modbus_port: int, relay_port: int) -> str:
    return f"""
[mqtt]
heartbeat_s = 60

[ocpp]
host = "127.0.0.1"
port = {ocpp_port}

[[devices]]
id = "bat1"
class = "battery"
w_max_lim = "@Control/MaxPow_FSCC1"

[[devices]]
id = "cs-1"
class = "ev_charger"
protocol = "ocpp"
w_max_lim = "@Control/MaxPow_FSCC1"

[[devices]]
id = "cs-2"
class = "ev_charger"
protocol = "ocpp"
w_max_lim = "@Control/MaxPow_FSCC1"

[[devices]]
id = "pv1"
class = "pv_inverter"
protocol = "sunspec"
w_max_lim = "@Control/MaxPow_FSCC1"
sunspec = {{ host = "127.0.0.1", port = {modbus_port}, poll_s = 0.2 }}

[[devices]]
id = "rb1"
class = "pv_inverter"
protocol = "modbus-relay"
w_max_lim = "@Control/MaxPow_FSCC1"
[devices.relay]
host = "127.0.0.1"
port = {relay_port}
poll_s = 0.2
rating_w = 10000.0
step_coils = [0, 1]
steps = [{{ pct = 0, coils = [true, true] }}, {{ pct = 30, coils = [false, true] }},
         {{ pct = 60, coils = [true, false] }}, {{ pct = 100, coils = [false, false] }}]
"""


async def test_an_mqtt_device_an_ocpp_station_and_a_sunspec_inverter_follow_the_same_schedule(
    broker: Broker, tmp_path: Path
) -> None:
    ocpp_port, modbus_port, relay_port = free_port(), free_port(), free_port()
    station = SimulatedStation(StationOptions(station_id="cs-1", meter_interval_s=0.5))
    station16 = SimulatedStation(StationOptions(station_id="cs-2", version="1.6", meter_interval_s=0.5))
    inverter = SimulatedInverter()  # rated 10 kW
    await inverter.server.start("127.0.0.1", modbus_port)
    board = SimulatedRelayBoard()
    await board.server.start("127.0.0.1", relay_port)
    async with mqtt_client(broker, BAT1) as (_, inbox):
        with gateway(broker, tmp_path, config(ocpp_port, modbus_port, relay_port)) as gw:
            runners = [asyncio.create_task(s.run(f"ws://127.0.0.1:{ocpp_port}/ocpp/{s.options.station_id}"))
                       for s in (station, station16)]  # fmt: skip
            try:
                await station.wait_until(lambda: station.booted, WAIT_S)
                await station16.wait_until(lambda: station16.booted, WAIT_S)
                await inbox.until(lambda m: limit(m) == 0.0, WAIT_S)  # the reserve: 0 kW
                start = next_second(1.5)
                await scada_programs(gw.mms_port, Schedule("MaxPow_FSCH01", [7, 3], start, intv_s=2, prio=50))
                await inbox.until(lambda m: limit(m) == 7 * KW, WAIT_S)
                # The station caps at the order, rounded down to its resolution (0.1 A on 3 x 230 V).
                await station.wait_until(lambda: 7 * KW - 69 < station.limit_w(1) <= 7 * KW, WAIT_S)
                await station16.wait_until(lambda: 7 * KW - 69 < station16.limit_w(1) <= 7 * KW, WAIT_S)
                step_60 = lambda: (board.closed(0), board.closed(1)) == (True, False)  # noqa: E731
                await board.server.wait_until(step_60, WAIT_S)
                await inbox.until(lambda m: limit(m) == 3 * KW, WAIT_S)
                await station.wait_until(lambda: 3 * KW - 69 < station.limit_w(1) <= 3 * KW, WAIT_S)
                await station16.wait_until(lambda: 3 * KW - 69 < station16.limit_w(1) <= 3 * KW, WAIT_S)
                three_kw = 30.0  # % of the inverter's 10 kW
                limited = lambda: inverter.value(DER_CONTROLS, "WMaxLimPct") == three_kw  # noqa: E731
                await inverter.server.wait_until(limited, WAIT_S)
                step_30 = lambda: (board.closed(0), board.closed(1)) == (False, True)  # noqa: E731
                await board.server.wait_until(step_30, WAIT_S)
                await health_of(gw, "cs-1", "ocpp", "applied")
                await health_of(gw, "cs-2", "ocpp", "applied")
                await health_of(gw, "pv1", "sunspec", "applied")
                await health_of(gw, "rb1", "modbus-relay", "applied")
                await health_of(gw, "bat1", "mqtt", "not_acknowledged")  # this device never acks
                intents = await asyncio.to_thread(gw.samples, "relevent_device_intents_total")
                assert intents['device="cs-1",protocol="ocpp"'] >= 3  # start, 7 kW, 3 kW
            finally:
                for runner in runners:
                    runner.cancel()
                await asyncio.gather(*runners, return_exceptions=True)
                await inverter.server.stop()
                await board.server.stop()
