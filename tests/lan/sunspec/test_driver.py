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
    DER_CTL,
    DER_ENTER_SERVICE,
    DER_MEASURE,
    INVERTER_FLOAT,
    INVERTER_INT,
    NAMEPLATE,
    SETTINGS,
)
from relevent.ports import free_port
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
            await reports.wait(lambda: any(r.w == 2500 and r.state == "THROTTLED" for r in reports.readings))
    finally:
        await inverter.server.stop()


async def test_legacy_12x_only_limit_via_123_and_w_set_rejected() -> None:
    inverter = SimulatedInverter(models=LEGACY)
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=4000.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(CONTROLS, "WMaxLimPct") == pytest.approx(40.0)
            assert inverter.value_raw(CONTROLS, "WMaxLim_Ena") == 1
            assert inverter.value_raw(CONTROLS, "WMaxLimPct_RvrtTms") == 60
            await reports.wait(lambda: any(r.w == 4000 and r.state == "THROTTLED" for r in reports.readings))
            driver.apply(intent(2, time.time(), w_max_lim=4000.0, w_set=3000.0))
            await reports.wait(lambda: reports.has("inv", DeviceHealth.REJECTED, 2))
            latest = reports.latest("inv")
            assert latest is not None
            assert "704" in latest.detail
    finally:
        await inverter.server.stop()


async def test_float_inverter_model_measures() -> None:
    inverter = SimulatedInverter(models=(COMMON, INVERTER_FLOAT, SETTINGS, CONTROLS), available_w=3210.0)
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (_driver, reports):
            await reports.wait(lambda: any(r.w == pytest.approx(3210.0) for r in reports.readings))
    finally:
        await inverter.server.stop()


async def test_w_set_reaches_704_with_its_reversion_value() -> None:
    inverter = SimulatedInverter()
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            fallback = DeviceFields(w_set=-1000.0)
            driver.apply(intent(1, time.time(), w_set=-4000.0, fallback=fallback))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(DER_CONTROLS, "WSet") == -4000
            assert inverter.value(DER_CONTROLS, "WSetRvrt") == -1000
            assert inverter.value_raw(DER_CONTROLS, "WSetEnaRvrt") == 1
            assert inverter.value_raw(DER_CONTROLS, "WSetEna") == 1
            assert inverter.power_w == -4000
            driver.apply(intent(2, time.time(), w_set=20000.0))
            await reports.wait(lambda: reports.has("inv", DeviceHealth.CLAMPED, 2))
            assert inverter.value(DER_CONTROLS, "WSet") == 10000
            driver.apply(intent(3, time.time()))
            await reports.wait(lambda: reports.has("inv", APPLIED, 3))
            assert inverter.value_raw(DER_CONTROLS, "WSetEna") == 0
    finally:
        await inverter.server.stop()


@pytest.mark.parametrize(
    ("models", "mid", "point"),
    [
        (None, CONTROLS, "Conn"),
        ((COMMON, DER_MEASURE, DER_CAPACITY, DER_ENTER_SERVICE, DER_CONTROLS), DER_ENTER_SERVICE, "ES"),
        ((*LEGACY, DER_MEASURE, DER_ENTER_SERVICE, DER_CONTROLS, DER_CTL), DER_CTL, "OpCtl"),
    ],
)
async def test_off_disconnects(models: tuple[int, ...] | None, mid: int, point: str) -> None:
    inverter = SimulatedInverter(**({"models": models} if models else {}))  # type: ignore[arg-type]
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), on=False))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value_raw(mid, point) == 0
            assert inverter.power_w == 0
            driver.apply(intent(2, time.time(), on=True))
            await reports.wait(lambda: reports.has("inv", APPLIED, 2))
            assert inverter.value_raw(mid, point) == 1
            assert inverter.power_w == 6000
    finally:
        await inverter.server.stop()


@pytest.mark.parametrize(("models", "expected"), [(None, 25.67), (LEGACY, 25.6)])
async def test_percent_rounds_down_so_the_limit_never_exceeds_the_order(
    models: tuple[int, ...] | None, expected: float
) -> None:
    inverter = SimulatedInverter(**({"models": models} if models else {}))  # type: ignore[arg-type]
    port = await serve(inverter)
    mid = CONTROLS if models else DER_CONTROLS
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=2567.99))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(mid, "WMaxLimPct") == pytest.approx(expected)
            assert inverter.power_w <= 2567.99
    finally:
        await inverter.server.stop()


async def test_not_implemented_wmax_falls_back_to_the_rating() -> None:
    inverter = SimulatedInverter()
    inverter.set_raw(DER_CAPACITY, "WMax", [0xFFFF])  # "not implemented"
    inverter.set(DER_CAPACITY, "WMaxRtg", 8000)
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=4000.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(DER_CONTROLS, "WMaxLimPct") == pytest.approx(50.0)
    finally:
        await inverter.server.stop()


async def test_calibrated_wmax_overrides_the_device() -> None:
    inverter = SimulatedInverter()
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port, wmax_w=5000.0)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=4000.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(DER_CONTROLS, "WMaxLimPct") == pytest.approx(80.0)
    finally:
        await inverter.server.stop()


@pytest.mark.parametrize("fallback", [None, 3000.0])
async def test_reversion_fires_on_the_inverters_clock_when_intents_stop(fallback: float | None) -> None:
    clock = ManualClock()
    inverter = SimulatedInverter(clock=clock)
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}, clock) as (driver, reports):
            driver.apply(
                intent(1, clock.now, valid_s=6.0, w_max_lim=1000.0, fallback=DeviceFields(w_max_lim=fallback))
            )
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(DER_CONTROLS, "WMaxLimPctRvrtTms") == 6
            assert inverter.power_w == 1000
            clock.now += 7.0  # no newer intent: the gateway is gone
            if fallback is None:
                assert inverter.value_raw(DER_CONTROLS, "WMaxLimPctEna") == 0
                assert inverter.power_w == 6000
            else:
                assert inverter.value(DER_CONTROLS, "WMaxLimPct") == pytest.approx(30.0)
                assert inverter.power_w == 3000
            polls = inverter.server.requests
            await inverter.server.wait_until(lambda: inverter.server.requests > polls + 5, 10.0)
            assert (
                inverter.value_raw(DER_CONTROLS, "WMaxLimPctRvrtRem") == 0
            )  # the expired intent is not re-sent
    finally:
        await inverter.server.stop()


async def test_timers_are_refreshed_at_a_third_and_unchanged_values_not_rewritten() -> None:
    clock = ManualClock()
    inverter = SimulatedInverter(clock=clock)
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}, clock) as (driver, reports):
            driver.apply(intent(1, clock.now, valid_s=60.0, w_max_lim=2000.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            first = inverter.server.last_write
            driver.apply(intent(2, clock.now + 1, valid_s=60.0, w_max_lim=2000.0))  # a heartbeat, same values
            await reports.wait(lambda: reports.has("inv", APPLIED, 2))
            assert inverter.server.last_write is first  # no write: flash wear
            clock.now += 21.0
            await inverter.server.wait_until(lambda: inverter.server.last_write is not first, 10.0)
            assert (
                inverter.value(DER_CONTROLS, "WMaxLimPctRvrtRem") == 40
            )  # re-armed to the newest valid_until
    finally:
        await inverter.server.stop()


async def test_fc16_refused_falls_back_to_single_register_writes() -> None:
    inverter = SimulatedInverter(quirks=Quirks(refuse_fc16=True))
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=2500.0, w_set=2000.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert inverter.value(DER_CONTROLS, "WMaxLimPct") == pytest.approx(25.0)
            assert inverter.value(DER_CONTROLS, "WSet") == 2000
    finally:
        await inverter.server.stop()


async def test_all_zero_frames_are_discarded() -> None:
    inverter = SimulatedInverter(quirks=Quirks(zero_frames=True))
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_max_lim=2500.0))
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            polls = inverter.server.requests
            await inverter.server.wait_until(lambda: inverter.server.requests > polls + 5, 10.0)
            assert reports.readings == []
            inverter.quirks.zero_frames = False
            await reports.wait(lambda: any(r.w == 2500 for r in reports.readings))
    finally:
        await inverter.server.stop()


async def test_out_of_range_write_is_rejected() -> None:
    inverter = SimulatedInverter()
    inverter.set(DER_CONTROLS, "WSet_SF", -3)  # 10 kW no longer fits int32 at 1 mW? it does; use a huge order
    port = await serve(inverter)
    try:
        async with driving({"inv": options(port, wmax_w=1e9)}) as (driver, reports):
            driver.apply(intent(1, time.time(), w_set=5e6))
            await reports.wait(lambda: reports.has("inv", DeviceHealth.REJECTED, 1))
    finally:
        await inverter.server.stop()


async def test_reconnect_rescans_and_reapplies_the_current_intent() -> None:
    inverter = SimulatedInverter()
    port = await serve(inverter)
    async with driving({"inv": options(port)}) as (driver, reports):
        driver.apply(intent(1, time.time(), w_max_lim=2500.0))
        await reports.wait(lambda: reports.has("inv", APPLIED, 1))
        await inverter.server.stop()
        await reports.wait(lambda: reports.has("inv", DeviceHealth.UNREACHABLE))
        inverter.set_raw(DER_CONTROLS, "WMaxLimPctEna", [0])  # the inverter restarted meanwhile
        inverter.set_raw(DER_CONTROLS, "WMaxLimPct", [10000])
        started = time.monotonic()
        await inverter.server.start("127.0.0.1", port)
        try:
            await reports.wait(lambda: reports.has("inv", APPLIED, 1), within_s=20.0)
            assert inverter.value_raw(DER_CONTROLS, "WMaxLimPctEna") == 1
            assert inverter.value(DER_CONTROLS, "WMaxLimPct") == pytest.approx(25.0)
            assert time.monotonic() - started < 15.0  # backoff is capped well below this
        finally:
            await inverter.server.stop()


async def test_a_dead_inverter_does_not_delay_a_live_one() -> None:
    inverter = SimulatedInverter()
    port = await serve(inverter)
    dead = options(free_port(), timeout_s=5.0)
    try:
        async with driving({"inv": options(port), "dead": dead}) as (driver, reports):
            now = time.time()
            driver.apply(intent(1, now, device="dead", w_max_lim=1000.0))
            driver.apply(intent(1, now, w_max_lim=2500.0))
            started = time.monotonic()
            await reports.wait(lambda: reports.has("inv", APPLIED, 1))
            assert time.monotonic() - started < 3.0  # the dead one's 5 s timeout is not in the way
    finally:
        await inverter.server.stop()
