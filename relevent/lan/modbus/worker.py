"""One task per Modbus device: connect with backoff, (re)discover, apply the newest intent, refresh, poll.

A dead or slow device holds up only its own task; the driver hands over intents without waiting (the newest
replaces one not yet written).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import structlog

from relevent.lan.driver import (
    DeviceHealth,
    DeviceIntent,
    DevicePlan,
    DeviceReports,
    HealthReport,
    MeterReading,
)
from relevent.lan.modbus.link import DeviceRefusedError, LinkDownError, ModbusLink

log = structlog.get_logger(__name__)

BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 1.0  # a device back from a power cut has its intent again within 2 s


class ModbusDevice(Protocol):
    """What a protocol (SunSpec, relay board) adds to the shared worker: its registers and their meaning."""

    device_id: str
    link: ModbusLink
    poll_s: float

    async def attach(self) -> None:
        """After every (re)connect: learn the device again (a full re-scan)."""
        ...

    async def command(self, intent: DeviceIntent, now: float) -> HealthReport:
        """Write the intent where it differs from what was written (or is due for refresh); verify it."""
        ...

    def refresh_in(self, now: float) -> float | None:
        """Seconds until the current intent must be written again (a device-side timer), None: never."""
        ...

    async def poll(self, now: float) -> MeterReading | None:
        """Read what the device measures; None when it has nothing valid."""
        ...

    async def stop(self) -> None:
        """The gateway shuts down: leave the device in its configured state (best effort)."""
        ...


class DeviceWorker:
    """Serves one device until cancelled; never raises."""

    def __init__(self, device: ModbusDevice, clock: Callable[[], float] = time.time) -> None:
        self.device = device
        self._clock = clock
        self._intent: DeviceIntent | None = None
        self._wake = asyncio.Event()

    def apply(self, intent: DeviceIntent) -> None:
        """The device's newest intent (replaces one not yet written)."""
        self._intent = intent
        self._wake.set()

    async def run(self, reports: DeviceReports) -> None:
        """Connect, serve, reconnect with exponential backoff; on cancel, the device's shutdown state."""
        backoff = BACKOFF_MIN_S
        try:
            while True:
                try:
                    await self.device.link.connect()
                    await self.device.attach()
                    backoff = BACKOFF_MIN_S
                    await self._serve(reports)
                except Exception as exc:  # whatever fails, fails for this device only
                    self.device.link.close()
                    seq = self._intent.seq if self._intent else None
                    reports.on_health(
                        HealthReport(self.device.device_id, DeviceHealth.UNREACHABLE, seq, str(exc))
                    )
                    if not isinstance(exc, LinkDownError | DeviceRefusedError):  # a bug: its traceback
                        log.exception("modbus device failed", device=self.device.device_id)
                    elif backoff == BACKOFF_MIN_S:  # the first failure of a streak, not every retry
                        log.warning("modbus device unreachable", device=self.device.device_id, error=str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX_S, backoff * 2)
        finally:
            with contextlib.suppress(LinkDownError, DeviceRefusedError):
                await asyncio.shield(self.device.stop())
            self.device.link.close()

    async def _serve(self, reports: DeviceReports) -> None:
        """Polls run on the loop's monotonic time; intents and timers on the (injectable) wall clock."""
        loop = asyncio.get_running_loop()
        written: DeviceIntent | None = None  # after a reconnect the current intent goes out again
        due = 0.0
        next_poll = 0.0
        while True:
            self._wake.clear()  # set again by an intent arriving from here on
            now = self._clock()
            intent = self._intent
            # an expired intent is not refreshed: the device's own reversion takes over
            if intent is not None and (intent is not written or due <= now < intent.valid_until):
                reports.on_health(await self.device.command(intent, now))
                written = intent
                refresh = self.device.refresh_in(now)
                due = now + refresh if refresh is not None else float("inf")
            if loop.time() >= next_poll:
                reading = await self.device.poll(self._clock())
                if reading is not None:
                    reports.on_measurement(reading)
                next_poll = loop.time() + self.device.poll_s
            now = self._clock()
            # a refresh still to come; an expired intent has none (the device's reversion took over)
            pending = intent is not None and due < intent.valid_until and now < intent.valid_until
            until_refresh = due - now if pending else float("inf")
            await self._pause(max(0.0, min(until_refresh, next_poll - loop.time())))

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short by a new intent (a timer, not asyncio.timeout: a cancel must never be lost)."""
        timer = asyncio.get_running_loop().call_later(seconds, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()


class ModbusDriver:
    """The `Driver` of a Modbus protocol: one worker per device, all served concurrently."""

    def __init__(
        self, protocol: str, devices: Iterable[ModbusDevice], clock: Callable[[], float] = time.time
    ) -> None:
        self.protocol = protocol
        self._workers = {device.device_id: DeviceWorker(device, clock) for device in devices}

    def apply(self, intent: DeviceIntent) -> None:
        """Hand the intent to its device's worker; unknown devices are logged and dropped."""
        worker = self._workers.get(intent.device_id)
        if worker is None:
            log.warning(
                "intent for a device this driver does not serve",
                device=intent.device_id,
                protocol=self.protocol,
            )
            return
        worker.apply(intent)

    def apply_plan(self, plan: DevicePlan) -> None:
        """Modbus devices take no plan (the gateway writes the current value and a reversion timer)."""

    async def run(self, reports: DeviceReports) -> None:
        """Serve every device until cancelled."""
        async with asyncio.TaskGroup() as group:
            for worker in self._workers.values():
                group.create_task(worker.run(reports))
