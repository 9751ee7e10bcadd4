"""The engine's forecasts come from a per-controller cache: computed once, right as time passes, redone
after a command that changes the controller's schedules or binding and after a clock step."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.forecast import output_changes, window
from relevent.scheduler.spec import ModelSpec

from .factory import BASE, IED, controller_spec, ggio_targets, ln, small_spec
from .harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")
DAY = 86400.0


def fresh(h: Harness, t0: float, t1: float) -> object:
    """The forecast computed now from the engine's current timeline, no cache involved."""
    timeline = h.engine._timeline  # the reference the cache must agree with
    assert timeline is not None
    start = max(t0, h.clock.now())
    return window(output_changes(timeline, FSCC, start, t1), start, t1)


async def test_a_cached_forecast_equals_a_fresh_one_as_time_passes(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    h.program(S1, values=[5.0, 5.0, 0.0, 6.0], intv=60, prio=10, starts=[BASE + 100])
    h.program(S2, values=[6.0, 7.0], intv=30, prio=20, starts=[BASE + 280])
    first = h.engine.forecast(FSCC, BASE, BASE + DAY)
    computed = h.engine.forecasts_computed
    for t in (BASE + 90, BASE + 100, BASE + 150, BASE + 285, BASE + 310, BASE + 400, BASE + 3000):
        await h.sleep_until(t)
        now = h.clock.now()
        assert h.engine.forecast(FSCC, now, now + DAY) == fresh(h, now, now + DAY), t
        assert h.engine.forecast(FSCC, now + 200, now + 300) == fresh(h, now + 200, now + 300), t
    assert h.engine.forecasts_computed == computed  # every later window served from the first forecast
    assert first[0].time == BASE


async def test_a_command_recomputes_only_the_forecasts_it_changes(db: Path) -> None:
    schedules = list(small_spec().schedules)  # F_FSCC1 lists the first two, F_FSCC2 the third
    controllers = (controller_spec("F_FSCC1", schedules[:2]), controller_spec("F_FSCC2", schedules[2:]))
    h = start_engine(ModelSpec(IED, tuple(schedules), controllers, ggio_targets()), db)
    other = ln("F_FSCC2")
    h.engine.forecast(FSCC, BASE, BASE + DAY)
    h.engine.forecast(other, BASE, BASE + DAY)
    computed = h.engine.forecasts_computed
    h.program(S1, values=[1.0], intv=60, prio=10, starts=[BASE + 100])
    assert h.engine.forecast(FSCC, BASE, BASE + DAY) == fresh(h, BASE, BASE + DAY)
    assert h.engine.forecast(FSCC, BASE, BASE + DAY)[1].value == 1.0
    h.engine.forecast(other, BASE, BASE + DAY)
    assert h.engine.forecasts_computed == computed + 1  # FSCC1 once after the writes; FSCC2 untouched


async def test_a_clock_step_recomputes_the_forecasts(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=600, prio=10, starts=[BASE + 1000])
    h.engine.forecast(FSCC, BASE, BASE + DAY)
    h.clock.offset = -500.0  # NTP steps the wall clock back before the forecast's start
    h.engine.clock_stepped()
    now = h.clock.now()
    assert h.engine.forecast(FSCC, now, now + DAY) == fresh(h, now, now + DAY)
    assert h.engine.forecast(FSCC, now, now + DAY)[0].time == now
