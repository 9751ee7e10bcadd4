"""The SunSpec driver against the simulated inverter over Modbus TCP on loopback, through `Driver`."""

from __future__ import annotations

import time

import pytest

from relevent.demo.sunspec_inverter import Quirks, SimulatedInverter
from relevent.lan.driver import DeviceFields, DeviceHealth
from relevent.lan.sunspec.models import (
    COMMON,
    CONTROLS,
    DER_CAPACITY,
    DER_CONTROLS,
    DER_ENTER_SERVICE,
    DER_MEASURE,
    INVERTER_FLOAT,
    INVERTER_INT,
    NAMEPLATE,
    SETTINGS,
)
from tests.lan.reports import ManualClock
from tests.lan.sunspec.support import driving, intent, options, serve

LEGACY = (COMMON, INVERTER_INT, NAMEPLATE, SETTINGS, CONTROLS)
APPLIED = DeviceHealth.APPLIED


@pytest.mark.parametrize("base", [40000, 0, 50000])
async def test_limit_reaches_704_at_every_base(base: int) -> None:
    inverter = SimulatedInverter(base=base)
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=2500.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(DER_CONTROLS, "WMaxLimPct") == pytest.approx(25.0)
            assert inverter.value_raw(DER_CONTROLS, "WMaxLimPctEna") == 1
            assert 55 <= (inverter.value(DER_CONTROLS, "WMaxLimPctRvrtRem") or 0) <= 60
            assert inverter.power_w == 2500
            await reports.wait(lambda: any(r.w == -2500 for r in reports.readings))
    finally:
        await inverter.server.stop()
