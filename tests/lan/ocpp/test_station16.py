"""The simulated station in OCPP 1.6J against a small CSMS written here: messages, profiles, quirks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from ocpp.charge_point import camel_to_snake_case
from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from relevent.demo.ocpp_composite import iso
from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.lan.driver import DeviceHealth
from relevent.lan.ocpp.routing import on
from tests.lan.ocpp.conftest import WAIT_S, installed, intent, site

_QUIET = logging.getLogger("tests.lan.ocpp.test_station16.wire")
_QUIET.setLevel(logging.WARNING)
TRANSACTION = 4711  # the id this CSMS gives every transaction


class _Csms16(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """The CSMS's side of the station's connection: answers and records what the station sends."""

    def __init__(self, connection: ServerConnection) -> None:
        super().__init__("cs-1", connection, response_timeout=10, logger=_QUIET)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def of(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == action]

    def powers(self) -> list[str]:
        """The power values of every MeterValues, as sent (strings)."""
        return [
            sample["value"]
            for payload in self.of("MeterValues")
            for value in payload["meter_value"]
            for sample in value["sampled_value"]
            if sample["measurand"] == "Power.Active.Import"
        ]

    async def route_message(self, raw_msg: str) -> None:
        """Record every CALL (snake_case, as the handlers see it) before it is answered."""
        message = json.loads(raw_msg)
        if message[0] == 2:
            self.calls.append((message[2], camel_to_snake_case(message[3])))
        await super().route_message(raw_msg)

    @on("BootNotification")
    def on_boot(self, **_: Any) -> result.BootNotification:
        return result.BootNotification(current_time=iso(time.time()), interval=300, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **_: Any) -> result.StatusNotification:
        return result.StatusNotification()

    @on("StartTransaction")
    def on_start(self, **_: Any) -> result.StartTransaction:
        return result.StartTransaction(transaction_id=TRANSACTION, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> result.MeterValues:
        return result.MeterValues()

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> result.Heartbeat:
        return result.Heartbeat(current_time=iso(time.time()))


class _Peer:
    """The station and the CSMS session it opened (once it has)."""

    def __init__(self, station: SimulatedStation) -> None:
        self.station = station
        self.session: _Csms16 | None = None

    @property
    def csms(self) -> _Csms16:
        assert self.session is not None
        return self.session

    async def until(self, condition: Any) -> None:
        """Until `condition()` holds after some change of the station (every message it sends is one)."""
        await self.station.wait_until(lambda: self.session is not None and bool(condition()), WAIT_S)

    async def set_profile(self, connector_id: int, profile: dict[str, Any]) -> str:
        answer = await self.csms.call(
            call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile), suppress=False
        )
        status: str = answer.status
        return status


@asynccontextmanager
async def station16(**options: Any) -> AsyncIterator[_Peer]:
    """A 1.6J station connected to the CSMS here, booted, its transaction started."""
    peer = _Peer(SimulatedStation(StationOptions(version="1.6", **options)))

    async def handler(connection: ServerConnection) -> None:
        assert connection.subprotocol == "ocpp1.6"
        peer.session = _Csms16(connection)
        await peer.session.start()

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        task = asyncio.create_task(peer.station.run(f"ws://127.0.0.1:{port}/ocpp/cs-1"))
        try:
            await peer.until(lambda: peer.csms.of("MeterValues"))
            yield peer
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def profile(
    profile_id: int, purpose: str, limit: float, unit: str = "W", stack_level: int = 1
) -> dict[str, Any]:
    """A 1.6 csChargingProfiles: one period from a minute ago."""
    return {
        "charging_profile_id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "start_schedule": iso(time.time() - 60),
            "charging_rate_unit": unit,
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
    }


async def test_boot_status_transaction_and_meter_values_in_1_6() -> None:
    async with station16() as peer:
        csms = peer.csms
        assert csms.of("BootNotification") == [
            {"charge_point_vendor": "relevent", "charge_point_model": "relevent-sim"}
        ]
        assert [s["status"] for s in csms.of("StatusNotification")] == ["Preparing", "Charging"]
        assert csms.of("StatusNotification")[0]["error_code"] == "NoError"
        (start,) = csms.of("StartTransaction")
        assert (start["connector_id"], start["meter_start"]) == (1, 0)
        (meter,) = csms.of("MeterValues")
        assert (meter["connector_id"], meter["transaction_id"]) == (1, TRANSACTION)
        samples = {s["measurand"]: (s["value"], s["unit"]) for s in meter["meter_value"][0]["sampled_value"]}
        assert samples == {
            "Power.Active.Import": ("11040.0", "W"),
            "Energy.Active.Import.Register": ("0.0", "Wh"),
            "Voltage": ("230.0", "V"),
        }
        assert peer.station.evses[1].transaction_id == str(TRANSACTION)


async def test_get_configuration_tells_the_smart_charging_capabilities() -> None:
    async with station16(rate_units="A", stack_levels=3, periods=5) as peer:
        answer = await peer.csms.call(
            call.GetConfiguration(
                key=["ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel", "Nonsense"]
            ),
            suppress=False,
        )
        values = {item["key"]: item["value"] for item in answer.configuration_key}
        assert values == {
            "ChargingScheduleAllowedChargingRateUnit": "Current",
            "ChargeProfileMaxStackLevel": "3",
        }
        assert answer.unknown_key == ["Nonsense"]


@pytest.mark.parametrize(("unit", "limit"), [("W", 4140.0), ("A", 6.0)])
async def test_charge_point_max_profile_limits_the_meter_values_and_the_composite(
    unit: str, limit: float
) -> None:
    async with station16() as peer:
        assert await peer.set_profile(0, profile(1, "ChargePointMaxProfile", limit, unit)) == "Accepted"
        await peer.until(lambda: peer.csms.powers()[-1] == "4140.0")
        assert installed(peer.station)[1]["charging_profile_purpose"] == "ChargingStationMaxProfile"
        assert peer.station.set_requests[-1]["evse_id"] == 0
        answer = await peer.csms.call(
            call.GetCompositeSchedule(connector_id=1, duration=600, charging_rate_unit=unit), suppress=False
        )
        assert (answer.status, answer.connector_id) == ("Accepted", 1)
        assert answer.charging_schedule["charging_rate_unit"] == unit
        assert answer.charging_schedule["start_schedule"] == answer.schedule_start
        assert [float(p["limit"]) for p in answer.charging_schedule["charging_schedule_period"]] == [limit]


async def test_tx_default_profile_under_6_a_pauses_the_ev() -> None:
    async with station16() as peer:
        assert await peer.set_profile(1, profile(2, "TxDefaultProfile", 5.0, "A")) == "Accepted"
        await peer.until(lambda: peer.csms.powers()[-1] == "0.0")
        assert peer.csms.of("StatusNotification")[-1]["status"] == "SuspendedEVSE"
        assert peer.csms.of("MeterValues")[-1]["transaction_id"] == TRANSACTION
        answer = await peer.csms.call(call.ClearChargingProfile(id=2), suppress=False)
        assert answer.status == "Accepted"
        await peer.until(lambda: peer.csms.powers()[-1] == "11040.0")
        assert peer.csms.of("StatusNotification")[-1]["status"] == "Charging"
        answer = await peer.csms.call(call.ClearChargingProfile(id=2), suppress=False)
        assert answer.status == "Unknown"


async def test_refused_station_max_and_too_high_stack_level_are_rejected() -> None:
    async with station16(refuse_station_max=True, stack_levels=2) as peer:
        assert await peer.set_profile(0, profile(1, "ChargePointMaxProfile", 4140.0)) == "Rejected"
        assert await peer.set_profile(1, profile(2, "TxDefaultProfile", 4140.0, stack_level=3)) == "Rejected"
        assert await peer.set_profile(1, profile(3, "TxDefaultProfile", 4140.0, stack_level=2)) == "Accepted"
        assert list(installed(peer.station)) == [3]
        assert len(peer.station.set_requests) == len(peer.station.set_times) == 3


async def test_a_profile_with_the_same_id_or_place_replaces_the_old_one() -> None:
    async with station16() as peer:
        assert await peer.set_profile(0, profile(5, "ChargePointMaxProfile", 4140.0)) == "Accepted"
        assert await peer.set_profile(0, profile(5, "ChargePointMaxProfile", 7000.0)) == "Accepted"
        await peer.until(lambda: peer.csms.powers()[-1] == "7000.0")
        assert await peer.set_profile(0, profile(6, "ChargePointMaxProfile", 5000.0)) == "Accepted"
        await peer.until(lambda: peer.csms.powers()[-1] == "5000.0")
        assert list(installed(peer.station)) == [6]


async def test_the_gateway_steers_a_1_6_station() -> None:
    async with site() as s:
        station = s.start(StationOptions(version="1.6"))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED
        await station.wait_until(lambda: station.power_w() == 7000.0, WAIT_S)
        await s.reports.wait(lambda: s.reports.power("cs-1") == 7000.0)
