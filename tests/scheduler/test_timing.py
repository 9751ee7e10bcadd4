"""Wall-clock steps (spec section 4: a step re-arms every timer) and the forecast (section 5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from relevent.scheduler.forecast import ForecastPoint

from .factory import BASE, ln, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")


async def test_rule_4_forward_clock_step_re_arms_and_jumps_to_the_new_time(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0, 3.0], intv=600, prio=1, starts=[BASE + 1000])
    h.clock.offset = 1500.0  # NTP steps the wall clock 25 minutes forward
    h.engine.clock_stepped()
    assert h.value(f"{S1}.SchdEntr.stVal") == 1
    assert h.recorder.timeline(FSCC) == [(1500, 1.0, "F_FSCH01")]
    await h.sleep_until(BASE + 1600)
    assert h.recorder.timeline(FSCC)[-1] == (1600, 2.0, "F_FSCH01")


async def test_rule_4_backward_clock_step_re_arms_for_the_same_wall_time(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 1000])
    await h.sleep_until(BASE + 500)
    h.clock.offset = -300.0  # stepped back: wall time reads BASE + 200
    h.engine.clock_stepped()
    await h.sleep_until(BASE + 1100)
    assert h.recorder.timeline(FSCC) == [(1000, 1.0, "F_FSCH01"), (1060, None, None)]
    at, first = next((at, e) for at, e in h.recorder.events if e in h.recorder.outputs())
    assert first.timestamp == BASE + 1000
    assert at == pytest.approx(BASE + 1000, abs=1e-4)  # emitted at the stepped wall time of the boundary


async def test_rule_4_a_timer_that_sees_a_step_re_evaluates_without_being_told(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 100, BASE + 3000])
    h.clock.offset = -1800.0  # stepped back by 30 minutes, nobody calls clock_stepped()
    await asyncio.sleep(150)  # the timer armed for BASE+100 fires; wall time reads BASE-1700
    assert h.recorder.outputs(FSCC) == []  # nothing started at the wrong time
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 100
    await h.sleep_until(BASE + 3200)
    assert h.recorder.timeline(FSCC) == [
        (100, 1.0, "F_FSCH01"),
        (160, 2.0, "F_FSCH01"),
        (220, None, None),
        (3000, 1.0, "F_FSCH01"),
        (3060, 2.0, "F_FSCH01"),
        (3120, None, None),
    ]


async def test_forecast_merges_equal_consecutive_values(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    h.program(S1, values=[5.0, 5.0, 0.0, 6.0], intv=60, prio=10, starts=[BASE + 100])
    h.program(S2, values=[6.0], intv=30, prio=20, starts=[BASE + 280])
    res = ln("F_Res_FSCH01")
    assert h.engine.forecast(FSCC, BASE + 50, BASE + 4000) == [
        ForecastPoint(BASE + 50, 0.0, res, 0),
        ForecastPoint(BASE + 100, 5.0, S1, 10),
        ForecastPoint(BASE + 220, 0.0, S1, 10),
        ForecastPoint(BASE + 280, 6.0, S2, 20),  # then S1 with 6.0 at 310: merged
        ForecastPoint(BASE + 340, 0.0, res, 0),  # hourly restarts of the reserve: merged
    ]
    assert h.recorder.outputs() == []  # forecasting changes nothing


async def test_forecast_window_starts_no_earlier_than_now(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=10, starts=[BASE + 100])
    await h.sleep_until(BASE + 130)
    assert h.engine.forecast(FSCC, BASE, BASE + 200) == [
        ForecastPoint(BASE + 130, 1.0, S1, 10),
        ForecastPoint(BASE + 160, None, None, None),
    ]
    assert h.engine.forecast(FSCC, BASE, BASE + 100) == []
    assert h.engine.forecast(ln("F_FSCC9"), BASE, BASE + 100) == []
