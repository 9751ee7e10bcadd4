"""Every quirk of real stations the simulator offers ends in the right health."""

from __future__ import annotations

import pytest

from relevent.demo.ocpp_station import StationOptions
from relevent.lan.driver import DeviceHealth
from tests.lan.ocpp.conftest import WAIT_S, installed, intent, site

pytestmark = pytest.mark.parametrize("version", ["2.1", "2.0.1", "1.6"])


async def test_a_only_station_gets_amperes(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version, rate_units="A"))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED
        schedule = installed(station)[2]["charging_schedule"][0]
        assert (schedule["charging_rate_unit"], schedule["charging_schedule_period"][0]["limit"]) == (
            "A",
            10.1,
        )
        await s.reports.wait(lambda: s.reports.power("cs-1") == 10.1 * 690)


async def test_w_only_station_gets_watts(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version, rate_units="W"))
        s.driver.apply(intent("cs-1", 1, w_set=-7000.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED
        assert installed(station)[3]["charging_schedule"][0]["charging_rate_unit"] == "W"
        await s.reports.wait(lambda: s.reports.power("cs-1") == 7000.0)


async def test_stack_level_0_station_gets_folded_layers_ending_on_the_reserve(version: str) -> None:
    async with site(safe_limit_w=4500.0) as s:
        station = s.start(StationOptions(version=version, stack_levels=0))
        s.driver.apply(intent("cs-1", 1, w_max_lim=8000.0, w_set=-6000.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED
        await s.reports.wait(lambda: s.reports.power("cs-1") == 6000.0)
        assert {p["stack_level"] for p in installed(station).values()} == {0}
        s.driver.apply(intent("cs-1", 2, on=False))
        assert (await s.reports.health_of("cs-1", 2)).health is DeviceHealth.APPLIED
        await s.reports.wait(lambda: s.reports.power("cs-1") == 0.0)


async def test_accepted_but_ignored_is_not_applied(version: str) -> None:
    async with site() as s:
        s.start(StationOptions(version=version, ignore_profiles=True))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        report = await s.reports.health_of("cs-1", 1)
        assert report.health is DeviceHealth.NOT_APPLIED
        assert "11040 W of 7000 W" in report.detail


async def test_limits_stored_but_not_followed_show_in_the_meter_values(version: str) -> None:
    async with site(settle_s=0.0) as s:
        s.start(StationOptions(version=version, ignore_limits=True, meter_interval_s=0.5))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        assert (
            await s.reports.health_of("cs-1", 1)
        ).health is DeviceHealth.APPLIED  # what it says it will do
        await s.reports.wait(lambda: s.reports.latest("cs-1").health is DeviceHealth.NOT_APPLIED)  # type: ignore[union-attr]
        assert "11040 W over the limit of 7000 W" in s.reports.latest("cs-1").detail  # type: ignore[union-attr]


async def test_refused_station_max_falls_back_on_tx_default(version: str) -> None:
    async with site() as s:
        station = s.start(StationOptions(version=version, refuse_station_max=True))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED
        await station.wait_until(lambda: station.power_w() == 7000.0, WAIT_S)
        purposes = {p["charging_profile_purpose"] for p in installed(station).values()}
        assert purposes == {"TxDefaultProfile"}


async def test_rejected_profiles_are_reported_with_the_station_reason(version: str) -> None:
    async with site() as s:
        s.start(StationOptions(version=version, reject_profiles="SmartChargingOff"))
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        report = await s.reports.health_of("cs-1", 1)
        assert report.health is DeviceHealth.REJECTED
        assert ("Rejected" if version == "1.6" else "SmartChargingOff") in report.detail  # 1.6: no reason
