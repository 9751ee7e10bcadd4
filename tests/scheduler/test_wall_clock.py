"""Wall-clock steps are detected against loop time; a stuck timer shows as lag."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from relevent.scheduler.clock import watch_wall_clock

from .factory import BASE, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)


class SteppableClock:
    """Wall time = base + loop time + a step the test sets."""

    def __init__(self) -> None:
        self.step = 0.0

    def now(self) -> float:
        return BASE + asyncio.get_running_loop().time() + self.step


async def test_a_step_is_reported_once_with_its_size_and_slews_are_not() -> None:
    clock = SteppableClock()
    steps: list[float] = []
    watcher = asyncio.create_task(watch_wall_clock(clock, steps.append, period_s=1.0, tolerance_s=0.25))
    await asyncio.sleep(2.5)
    clock.step += 0.1  # a slew-sized change: ignored
    await asyncio.sleep(2)
    clock.step += 3600  # NTP steps an hour forward
    await asyncio.sleep(3)
    clock.step -= 30
    await asyncio.sleep(3)
    watcher.cancel()
    assert steps == [pytest.approx(3600), pytest.approx(-30)]


async def test_timer_lag_is_zero_on_time_and_grows_when_the_timer_is_overdue(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert h.engine.timer_lag() == 0.0
    h.engine._disarm()  # the timer is lost, as in a wedged core
    h.engine._armed_for = h.clock.now() - 12.0
    assert h.engine.timer_lag() == pytest.approx(12.0)
