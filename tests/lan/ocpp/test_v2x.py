"""OCPP 2.1: the newest subprotocol chosen, a bidirectional EV discharging on w_set > 0, offline reversion."""

from __future__ import annotations

import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from relevent.demo.ocpp_composite import Profile, ProfileStore
from relevent.demo.ocpp_station import StationOptions
from relevent.lan.driver import DeviceFields, DeviceHealth, DeviceIntent
from relevent.lan.ocpp.config import OcppSection, OcppStation
from relevent.lan.ocpp.profiles import Capabilities, Layer, StationView, build
from relevent.lan.ocpp.readings import sampled
from relevent.lan.ocpp.steering import MeterCheck
from relevent.lan.ocpp.units import Electrical
from relevent.lan.ocpp.v21 import profile_payload
from relevent.lan.ocpp.v201 import value_of
from tests.lan.ocpp.conftest import WAIT_S, Site, installed, intent, site
from tests.lan.ocpp.test_frames_and_access import exchange

V2X = StationOptions(version="2.1", v2x=True, meter_interval_s=0.5)
NOW = 1_800_000_000.0
THREE_PHASE = Electrical(230.0, 3)


def steer(view: StationView, **fields: float | bool) -> dict[Layer, tuple[tuple[int, float], ...]]:
    fixed = DeviceIntent("cs-1", 1, NOW, NOW + 60, DeviceFields(**fields))  # type: ignore[arg-type]
    return {spec.layers[0]: spec.periods for spec in build(fixed, None, view, NOW, OcppSection())}


def test_a_discharge_is_a_negative_value_held_to_w_max_lim_and_stopped_by_a_pause() -> None:
    view = StationView(Capabilities(), THREE_PHASE, discharge=True)
    assert steer(view, w_set=5000.0)[Layer.SET] == ((0, -5000.0),)
    assert steer(view, w_set=5000.0, w_max_lim=3000.0)[Layer.SET] == ((0, -3000.0),)
    assert steer(view, w_set=5000.0, on=False)[Layer.OFF] == ((0, 0.0),)  # the pause over the discharge
    folded = StationView(Capabilities(max_stack_level=0), THREE_PHASE, discharge=True)
    assert steer(folded, w_set=5000.0, on=False)[Layer.RESERVE][0] == (0, 0.0)
    assert steer(folded, w_set=5000.0, w_max_lim=2000.0)[Layer.RESERVE][0] == (0, -2000.0)
    amps = StationView(Capabilities(rate_units=frozenset({"A"})), THREE_PHASE, discharge=True)
    assert steer(amps, w_set=5000.0)[Layer.SET] == ((0, -7.2),)  # 7.24 A rounded towards 0, not away
    charging_only = StationView(Capabilities(), THREE_PHASE)  # a station that may not discharge
    assert steer(charging_only, w_set=5000.0)[Layer.SET] == ((0, 0.0),)


def test_a_2_1_profile_carries_a_central_setpoint_and_its_offline_duration() -> None:
    view = StationView(Capabilities(), THREE_PHASE, discharge=True)
    fixed = DeviceIntent("cs-1", 1, NOW, NOW + 60, DeviceFields(w_set=4000.0, w_max_lim=9000.0))
    specs = {spec.layers[0]: spec for spec in build(fixed, None, view, NOW, OcppSection(max_offline_s=120))}
    steering = profile_payload(specs[Layer.SET])
    assert steering["charging_schedule"][0]["charging_schedule_period"] == [
        {
            "start_period": 0,
            "operation_mode": "CentralSetpoint",
            "setpoint": -4000.0,
            "discharge_limit": -4000.0,
        }
    ]
    assert (steering["max_offline_duration"], steering["invalid_after_offline_duration"]) == (120, True)
    station_max = profile_payload(specs[Layer.MAX])  # 2.1 allows the station maximum ChargingOnly only
    assert station_max["charging_schedule"][0]["charging_schedule_period"] == [
        {"start_period": 0, "limit": 9000.0}
    ]
    reserve = profile_payload(specs[Layer.RESERVE])  # outlives the gateway
    assert "max_offline_duration" not in reserve


def test_the_simulator_drops_a_profile_offline_too_long_for_good() -> None:
    fixed = DeviceIntent("cs-1", 1, NOW, NOW + 60, DeviceFields(w_max_lim=7000.0))
    specs = build(fixed, None, StationView(Capabilities(), THREE_PHASE), NOW, OcppSection(max_offline_s=10))
    spec = next(spec for spec in specs if spec.layers[0] is Layer.MAX)
    store = ProfileStore()
    store.install(Profile(0, profile_payload(spec)))
    store.offline(NOW + 100)
    assert store.limit_w(1, NOW + 109, None, 690.0, 11040.0) == 7000.0
    assert store.limit_w(1, NOW + 110, None, 690.0, 11040.0) == 11040.0  # run out: the next layer down
    store.online(NOW + 105)  # back in time: kept
    store.offline(NOW + 200)
    store.online(NOW + 211)  # too late: gone, even online
    assert store.profiles == {}


def test_export_is_read_as_negative_import() -> None:
    samples = [
        {"measurand": "Power.Active.Import", "value": 0.0},
        {"measurand": "Power.Active.Export", "value": 4000.0},
        {"measurand": "Energy.Active.Export.Register", "value": 12.0},
    ]
    [(_, w, _, _)] = sampled([{"timestamp": "2027-01-15T08:00:00Z", "sampled_value": samples}], NOW, value_of)
    assert w == -4000.0


def test_meter_values_breach_a_discharge_by_more_export_or_by_import() -> None:
    check = MeterCheck(-5000.0, NOW, 1)
    assert check.breach(-5000.0) == ""
    assert check.breach(-3000.0) == ""  # less than asked: the EV's own limits
    assert check.breach(-6000.0) == "meter values show 6000 W of export over the setpoint of 5000 W"
    assert check.breach(2000.0) == "meter values show 2000 W of import where 5000 W of export was asked"


@pytest.mark.parametrize(
    ("offered", "proxied", "chosen"),
    [
        (["ocpp1.6", "ocpp2.0.1", "ocpp2.1"], False, "ocpp2.1"),
        (["ocpp1.6", "ocpp2.0.1"], False, "ocpp2.0.1"),
        (["ocpp2.1", "ocpp2.0.1"], True, "ocpp2.0.1"),  # its operator's CSMS may not speak 2.1
        (["ocpp2.1", "ocpp1.6"], True, "ocpp2.1"),
    ],
)
async def test_the_newest_version_a_station_offers_is_chosen(
    offered: list[str], proxied: bool, chosen: str
) -> None:
    stations = {"cs-1": OcppStation(upstream_url="ws://127.0.0.1:9/ocpp")} if proxied else {}
    async with site(stations=stations) as s:
        protocols = [Subprotocol(name) for name in offered]
        async with connect(s.url("cs-1"), subprotocols=protocols, proxy=None) as connection:
            assert connection.subprotocol == chosen
        with pytest.raises(InvalidStatus) as refused:
            await connect(s.url("cs-1"), subprotocols=[Subprotocol("ocpp1.5")], proxy=None)
        assert refused.value.response.status_code == 400


@pytest.mark.parametrize("version", ["2.1", "2.0.1"])
async def test_authorize_and_charging_needs_are_accepted(version: str) -> None:
    async with site() as s:
        protocols = [Subprotocol(f"ocpp{version}")]
        async with connect(s.url("cs-1"), subprotocols=protocols, proxy=None) as ws:
            authorize = [2, "a1", "Authorize", {"idToken": {"idToken": "04A1B2", "type": "ISO14443"}}]
            accepted = {"idTokenInfo": {"status": "Accepted"}}
            assert await exchange(ws, json.dumps(authorize)) == [3, "a1", accepted]
            needs = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}}
            answer = await exchange(ws, json.dumps([2, "n1", "NotifyEVChargingNeeds", needs]))
            assert answer == [3, "n1", {"status": "Accepted"}]
        assert s.driver.stations["cs-1"].evse(1).discharge_w is None  # charging only


async def exporting(s: Site, seq: int, w: float) -> None:
    """Until the intent `seq` is applied and the meter values show `w` W of export."""
    await s.reports.wait(lambda: s.reports.has("cs-1", DeviceHealth.APPLIED, seq), WAIT_S)
    await s.reports.wait(lambda: s.reports.power("cs-1") == -w, WAIT_S)


async def test_a_v2x_ev_discharges_on_a_positive_w_set_and_meters_the_export() -> None:
    async with site(settle_s=0.0) as s:
        station = s.start(V2X)
        # Applied once the EV reported bidirectional power transfer (refused before, if it came first).
        s.driver.apply(intent("cs-1", 1, w_set=5000.0))
        await exporting(s, 1, 5000.0)
        profile = installed(station)[3]
        assert profile["charging_profile_purpose"] == "TxDefaultProfile"
        assert profile["charging_schedule"][0]["charging_schedule_period"][0]["setpoint"] == -5000.0
        assert profile["max_offline_duration"] == OcppSection().max_offline_s
        assert s.driver.stations["cs-1"].evse(1).discharge_w == V2X.ev_max_discharge_w
        # Further meter values past the settling time keep it applied: they show the export asked.
        readings = len(s.reports.readings)
        await s.reports.wait(lambda: len(s.reports.readings) >= readings + 3, WAIT_S)
        assert s.reports.has("cs-1", DeviceHealth.APPLIED, 1)
        await station.wait_until(lambda: station.evses[1].export_wh > 0, WAIT_S)
        # Charging again: a ceiling, as on every version.
        s.driver.apply(intent("cs-1", 2, w_set=-5520.0))
        await s.reports.wait(lambda: s.reports.has("cs-1", DeviceHealth.APPLIED, 2), WAIT_S)
        await s.reports.wait(lambda: s.reports.power("cs-1") == 5520.0, WAIT_S)


async def test_an_ev_charging_on_instead_of_discharging_is_not_applied() -> None:
    async with site(settle_s=0.0) as s:
        s.start(StationOptions(version="2.1", v2x=True, ignore_limits=True, meter_interval_s=0.5))
        s.driver.apply(intent("cs-1", 1, w_set=5000.0))
        await s.reports.wait(lambda: s.reports.has("cs-1", DeviceHealth.NOT_APPLIED, 1), WAIT_S)
        assert "11040 W of import where 5000 W of export was asked" in s.reports.health[-1].detail


async def test_w_max_lim_holds_the_discharge_too() -> None:
    async with site() as s:
        s.start(V2X)
        s.driver.apply(intent("cs-1", 1, w_set=8000.0, w_max_lim=3000.0))
        await exporting(s, 1, 3000.0)


async def test_an_a_only_station_gets_the_setpoint_in_amperes_rounded_towards_0() -> None:
    async with site() as s:
        station = s.start(StationOptions(version="2.1", v2x=True, rate_units="A"))
        s.driver.apply(intent("cs-1", 1, w_set=5000.0))
        await exporting(s, 1, 7.2 * 690)  # 7.24 A: never more export than asked
        assert installed(station)[3]["charging_schedule"][0]["charging_rate_unit"] == "A"


async def test_the_pause_stops_a_discharge_and_the_resume_restarts_it() -> None:
    async with site() as s:
        station = s.start(V2X)
        s.driver.apply(intent("cs-1", 1, w_set=5000.0, on=True))
        await exporting(s, 1, 5000.0)
        s.driver.apply(intent("cs-1", 2, w_set=5000.0, on=False))
        await s.reports.wait(lambda: s.reports.has("cs-1", DeviceHealth.APPLIED, 2), WAIT_S)
        await s.reports.wait(lambda: s.reports.power("cs-1") == 0.0, WAIT_S)
        pause = installed(station)[4]["charging_schedule"][0]["charging_schedule_period"]
        assert pause == [{"start_period": 0, "limit": 0.0}]  # ChargingOnly at 0 W: neither way
        s.driver.apply(intent("cs-1", 3, w_set=5000.0, on=True))
        await exporting(s, 3, 5000.0)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (StationOptions(version="2.1"), "no bidirectional power transfer"),
        (StationOptions(version="2.0.1"), "OCPP 2.0.1 carries no discharge"),
        (StationOptions(version="1.6"), "OCPP 1.6 carries no discharge"),
    ],
)
async def test_a_station_that_cannot_discharge_refuses_a_positive_w_set(
    options: StationOptions, reason: str
) -> None:
    async with site() as s:
        station = s.start(options)
        await s.reports.wait(lambda: s.reports.power("cs-1") is not None, WAIT_S)  # its EV is in
        s.driver.apply(intent("cs-1", 1, w_set=5000.0))
        report = await s.reports.health_of("cs-1", 1)
        assert report.health is DeviceHealth.REJECTED
        assert reason in report.detail
        periods = [
            p for r in station.set_requests for p in r["charging_schedule"][0]["charging_schedule_period"]
        ]
        assert all("setpoint" not in p and p["limit"] >= 0 for p in periods)  # nothing but ceilings


async def test_a_dead_gateway_leaves_a_2_1_station_on_the_reserve_after_the_offline_duration() -> None:
    async with site(max_offline_s=2) as s:
        station = s.start(StationOptions(version="2.1"))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0, fallback=DeviceFields(w_max_lim=5000.0)))
        await s.reports.wait(lambda: s.reports.power("cs-1") == 7000.0, WAIT_S)
        s.runner.cancel()  # the gateway goes
        await station.wait_until(lambda: station.connection is None, WAIT_S)
        gone = station.store.offline_since
        assert gone is not None
        # The steered 7 kW for the offline duration (its horizon is an hour), then the reserve for ever.
        assert station.limit_w(1, gone + 1) == 7000.0
        assert station.limit_w(1, gone + 2.5) == 5000.0
        assert station.limit_w(1, time.time() + 86400) == 5000.0
