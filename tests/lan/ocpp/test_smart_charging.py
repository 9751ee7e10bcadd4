"""Intents and plans reach a simulated station (2.0.1, 1.6J) as charging profiles; its meter follows."""

from __future__ import annotations

import math
import time

import pytest

from relevent.demo.ocpp_station import StationOptions
from relevent.lan.driver import DeviceFields, DeviceHealth
from tests.lan.ocpp.conftest import WAIT_S, installed, intent, site

pytestmark = pytest.mark.parametrize("version", ["2.1", "2.0.1", "1.6"])

EV_MAX_W = StationOptions().ev_max_w


async def test_w_max_lim_caps_the_station_and_the_meter_follows(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        report = await s.reports.health_of("cs-1", 1)
        assert report.health is DeviceHealth.APPLIED, report
        await s.reports.wait(lambda: s.reports.power("cs-1") == 7000.0)
        profiles = installed(station)
        assert profiles[2]["charging_profile_purpose"] == "ChargingStationMaxProfile"
        assert profiles[2]["stack_level"] == 1
        assert station.power_w() == 7000.0
        registry = s.driver.metrics.registry
        for action in ("SetChargingProfile", "GetCompositeSchedule"):  # each call's round trip observed
            count = registry.get_sample_value("relevent_ocpp_call_seconds_count", {"action": action}) or 0
            total = registry.get_sample_value("relevent_ocpp_call_seconds_sum", {"action": action}) or 0
            assert count >= 1, action
            assert 0 < total < count * WAIT_S, action


async def test_reserve_is_permanent_and_the_steering_bounded(version: str) -> None:
    async with site(safe_limit_w=5000.0, horizon_s=120) as s:
        station = s.start(StationOptions(version=version))
        s.driver.apply(intent("cs-1", 1, w_max_lim=9000.0, fallback=DeviceFields(w_max_lim=6000.0)))
        await s.reports.health_of("cs-1", 1)
        profiles = installed(station)
        reserve, steer = profiles[1], profiles[2]
        assert (reserve["stack_level"], reserve["charging_profile_purpose"]) == (
            0,
            "ChargingStationMaxProfile",
        )
        assert "duration" not in reserve["charging_schedule"][0]
        assert "valid_to" not in reserve
        assert steer["charging_schedule"][0]["duration"] == 120
        assert steer["valid_to"]
        # A dead gateway: past the horizon the station falls back on the reserve, never unlimited.
        later = time.time() + 121
        assert station.limit_w(1, later) == 6000.0


async def test_w_set_is_a_ceiling_and_a_discharge_is_rejected(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version))
        s.driver.apply(intent("cs-1", 1, w_set=-5520.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED
        await station.wait_until(lambda: station.power_w() == 5520.0, WAIT_S)
        assert installed(station)[3]["charging_profile_purpose"] == "TxDefaultProfile"
        s.driver.apply(intent("cs-1", 2, w_set=3000.0))
        report = await s.reports.health_of("cs-1", 2)
        assert report.health is DeviceHealth.REJECTED
        # 2.1 could carry it, but this station's EV reported no bidirectional power transfer
        assert ("no bidirectional" if version == "2.1" else "needs OCPP 2.1") in report.detail


async def test_limit_under_6_a_is_reported_clamped(version: str) -> None:
    async with site() as s:
        s.start(StationOptions(version=version, rate_units="A"))
        s.driver.apply(intent("cs-1", 1, w_max_lim=3000.0))
        report = await s.reports.health_of("cs-1", 1)
        assert report.health is DeviceHealth.CLAMPED, report
        await s.reports.wait(lambda: s.reports.power("cs-1") == 0.0)


async def test_on_false_pauses_and_true_resumes_the_same_transaction(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version))
        s.driver.apply(intent("cs-1", 1, on=True))
        await s.reports.health_of("cs-1", 1)
        await station.wait_until(lambda: station.power_w() == EV_MAX_W, WAIT_S)
        transaction = station.evses[1].transaction_id
        s.driver.apply(intent("cs-1", 2, on=False))
        assert (await s.reports.health_of("cs-1", 2)).health is DeviceHealth.APPLIED
        await s.reports.wait(lambda: s.reports.power("cs-1") == 0.0)
        assert installed(station)[4]["stack_level"] == StationOptions().stack_levels  # the top, not a fixed 9
        s.driver.apply(intent("cs-1", 3, on=True))
        await s.reports.health_of("cs-1", 3)
        await s.reports.wait(lambda: s.reports.power("cs-1") == EV_MAX_W)
        assert 4 not in installed(station)
        assert station.evses[1].transaction_id == transaction


async def test_plan_runs_on_the_station_at_its_boundaries(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version))
        await s.reports.wait(lambda: s.reports.power("cs-1") == EV_MAX_W)
        step = math.floor(time.time()) + 2.0
        s.driver.apply(intent("cs-1", 1, w_max_lim=8000.0))
        s.plan("cs-1", (time.time(), DeviceFields(w_max_lim=8000.0)), (step, DeviceFields(w_max_lim=5000.0)))
        await s.reports.wait(lambda: s.reports.power("cs-1") == 8000.0)
        sends = len(station.set_requests)
        await s.reports.wait(lambda: s.reports.power("cs-1") == 5000.0)
        assert time.time() >= step
        assert len(station.set_requests) == sends  # the station followed on its own: nothing was re-sent


async def test_profiles_are_reasserted_after_a_reboot_and_a_reconnect(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        await s.reports.wait(lambda: s.reports.power("cs-1") == 7000.0)
        await station.drop(reboot=True)
        await station.wait_until(lambda: station.boots == 2 and 2 in station.store.profiles, WAIT_S)
        await station.wait_until(lambda: station.power_w() == 7000.0, WAIT_S)
        sends = len(station.set_requests)
        await station.drop()  # no reboot: it keeps its profiles, the gateway asserts them anyway
        await station.wait_until(lambda: len(station.set_requests) > sends, WAIT_S)
        assert station.boots == 2


async def test_disconnect_is_reported_unreachable(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        await s.reports.health_of("cs-1", 1)
        for task in s.tasks:
            task.cancel()
        await s.reports.wait(
            lambda: getattr(s.reports.latest("cs-1"), "health", None) is DeviceHealth.UNREACHABLE
        )
        assert station.connection is None
