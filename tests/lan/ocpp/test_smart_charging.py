"""Intents and plans reach a simulated 2.0.1 station as charging profiles; its meter values follow."""

from __future__ import annotations

from relevent.demo.ocpp_station import StationOptions
from relevent.lan.driver import DeviceHealth
from tests.lan.ocpp.conftest import installed, intent, site


async def test_w_max_lim_caps_the_station_and_the_meter_follows() -> None:
    async with site() as s:
        station = s.start(StationOptions())
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        report = await s.reports.health_of("cs-1", 1)
        assert report.health is DeviceHealth.APPLIED, report
        await s.reports.wait(lambda: s.reports.power("cs-1") == 7000.0)
        profiles = installed(station)
        assert profiles[2]["charging_profile_purpose"] == "ChargingStationMaxProfile"
        assert profiles[2]["stack_level"] == 1
        assert station.power_w() == 7000.0
