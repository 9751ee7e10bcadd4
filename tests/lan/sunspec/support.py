"""Simulated inverters on loopback and the SunSpec driver serving them, for the tests and the bench."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping

from relevent.demo.sunspec_inverter import SimulatedInverter
from relevent.lan.driver import DeviceFields, DeviceIntent
from relevent.lan.modbus.worker import ModbusDriver
from relevent.lan.sunspec.config import SunSpecOptions
from relevent.lan.sunspec.driver import sunspec_driver
from relevent.ports import free_port
from tests.lan.reports import RecordingReports

HOST = "127.0.0.1"


async def serve(inverter: SimulatedInverter) -> int:
    """Start the simulator on a free loopback port; returns the port."""
    port = free_port()
    await inverter.server.start(HOST, port)
    return port


def options(port: int, **quirks: object) -> SunSpecOptions:
    """Options for an inverter on loopback with fast polls and short timeouts."""
    return SunSpecOptions.model_validate(
        {"host": HOST, "port": port, "poll_s": 0.05, "timeout_s": 0.5, **quirks}
    )


@contextlib.asynccontextmanager
async def driving(
    devices: Mapping[str, SunSpecOptions], clock: Callable[[], float] = time.time
) -> AsyncIterator[tuple[ModbusDriver, RecordingReports]]:
    """The driver running against `devices` until the block ends."""
    driver = sunspec_driver(devices, clock)
    reports = RecordingReports()
    task = asyncio.create_task(driver.run(reports))
    try:
        yield driver, reports
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def intent(
    seq: int, now: float, *, device: str = "inv", valid_s: float = 60.0, fallback: DeviceFields | None = None,
    **fields: float | bool | None,
) -> DeviceIntent:  # fmt: skip
    """An intent for `device` valid `valid_s` from `now`."""
    return DeviceIntent(
        device, seq, now, now + valid_s, DeviceFields(**fields),  # type: ignore[arg-type]
        fallback=fallback or DeviceFields(),
    )  # fmt: skip
