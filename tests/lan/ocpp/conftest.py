"""The OCPP driver under test against simulated stations over real WebSockets on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.lan.driver import (
    DeviceFields,
    DeviceHealth,
    DeviceIntent,
    DevicePlan,
    HealthReport,
)
from relevent.lan.ocpp.config import OcppSection
from relevent.lan.ocpp.driver import OcppDriver
from tests.lan.reports import RecordingReports

WAIT_S = 20.0  # generous: the full suite shares two cores


class Reports(RecordingReports):
    """The recording DeviceReports, with what the OCPP tests ask of a station."""

    async def health_of(self, device_id: str, seq: int, wait_s: float = WAIT_S) -> HealthReport:
        """The first health report about intent `seq` that is not `unreachable`."""

        def matching() -> list[HealthReport]:
            return [
                r
                for r in self.health
                if r.device_id == device_id and r.seq == seq and r.health is not DeviceHealth.UNREACHABLE
            ]

        await self.wait(lambda: bool(matching()), wait_s)
        return matching()[0]

    def power(self, device_id: str) -> float | None:
        """What the station's EVs draw now (our readings are positive for injection)."""
        found = [-r.w for r in self.readings if r.device_id == device_id]
        return found[-1] if found else None


def intent(
    device_id: str, seq: int, *, valid_s: float = 600.0, fallback: DeviceFields | None = None, **fields: Any
) -> DeviceIntent:
    now = time.time()
    return DeviceIntent(
        device_id, seq, now, now + valid_s, DeviceFields(**fields), fallback=fallback or DeviceFields()
    )


@dataclass
class Site:
    driver: OcppDriver
    reports: Reports
    port: int
    section: OcppSection
    runner: asyncio.Task[None]  # the driver's
    stations: dict[str, SimulatedStation] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def url(self, station_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}{self.section.path}/{station_id}"

    def start(self, options: StationOptions, url: str | None = None, ssl: Any = None) -> SimulatedStation:
        station = SimulatedStation(options)
        self.stations[options.station_id] = station
        self.tasks.append(asyncio.create_task(station.run(url or self.url(options.station_id), ssl=ssl)))
        return station

    def plan(self, device_id: str, *steps: tuple[float, DeviceFields]) -> DevicePlan:
        plan = DevicePlan(device_id, time.time(), tuple(steps))
        self.driver.apply_plan(plan)
        return plan


@asynccontextmanager
async def site(
    ids: tuple[str, ...] = ("cs-1",), settle_s: float = 0.5, **section: Any
) -> AsyncIterator[Site]:
    """The driver listening on a free loopback port for the stations `ids`; stations started by the test."""
    config = OcppSection(**{"host": "127.0.0.1", "port": 0, **section})
    driver = OcppDriver(config, ids, settle_s=settle_s)
    reports = Reports()
    runner = asyncio.create_task(driver.run(reports))
    try:
        await asyncio.wait_for(driver.listening.wait(), WAIT_S)
        assert driver.port is not None
        s = Site(driver, reports, driver.port, config, runner)
        try:
            yield s
        finally:
            for task in s.tasks:
                task.cancel()
            for task in s.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


def options(**kwargs: Any) -> StationOptions:
    return StationOptions(**kwargs)


def installed(station: SimulatedStation) -> Mapping[int, dict[str, Any]]:
    """The profiles the station holds by id."""
    return {pid: p.body for pid, p in station.store.profiles.items()}
