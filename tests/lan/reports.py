"""A recording `DeviceReports` and an injectable clock for driver tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from relevent.lan.driver import DeviceHealth, HealthReport, MeterReading


class ManualClock:
    """Wall time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class RecordingReports:
    """Keeps every report; tests wait on a condition re-checked at each report."""

    def __init__(self) -> None:
        self.health: list[HealthReport] = []
        self.readings: list[MeterReading] = []
        self._event = asyncio.Event()

    def on_health(self, report: HealthReport) -> None:
        self.health.append(report)
        self._event.set()

    def on_measurement(self, measurement: MeterReading) -> None:
        self.readings.append(measurement)
        self._event.set()

    def latest(self, device_id: str) -> HealthReport | None:
        """The device's latest health."""
        return next((r for r in reversed(self.health) if r.device_id == device_id), None)

    def has(self, device_id: str, health: DeviceHealth, seq: int | None = None) -> bool:
        """Whether the device's latest health is `health` (for intent `seq`, when given)."""
        latest = self.latest(device_id)
        return latest is not None and latest.health == health and (seq is None or latest.seq == seq)

    async def wait(self, condition: Callable[[], bool], within_s: float = 20.0) -> None:
        """Until `condition()` holds after some report."""
        async with asyncio.timeout(within_s):
            while not condition():
                self._event.clear()
                await self._event.wait()
