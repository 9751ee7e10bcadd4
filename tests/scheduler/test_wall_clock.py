"""Wall-clock steps are detected against loop time; a stuck timer shows as lag."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from relevent.scheduler.events import OutputChanged

from .factory import BASE, ln, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)


S1 = ln("F_FSCH01")


async def test_the_engine_follows_a_wall_clock_step_at_once_and_ignores_a_slew(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=3600, prio=10, starts=[BASE + 3600])  # in an hour
    watcher = asyncio.create_task(h.engine.watch_clock(period_s=1.0, tolerance_s=0.25))
    with capture_logs() as logs:
        await asyncio.sleep(2.5)
        h.clock.offset += 0.1  # a slew-sized change: ignored
        await asyncio.sleep(2)
        assert h.recorder.outputs() == []
        h.clock.offset += 3600  # NTP steps an hour forward: the run's first entry is due now
        event = await h.recorder.wait_for(lambda e: isinstance(e, OutputChanged), 1.5)
        h.clock.offset -= 30
        await asyncio.sleep(1.5)
    watcher.cancel()
    assert isinstance(event, OutputChanged)
    assert event.value == 1.0
    assert event.timestamp == pytest.approx(BASE + 3605.1)  # the step's time, not its armed timer's
    steps = [log["by_s"] for log in logs if log["event"] == "wall clock step detected"]
    assert steps == [pytest.approx(3600), pytest.approx(-30)]


async def test_timer_lag_is_zero_on_time_and_grows_when_the_timer_is_overdue(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert h.engine.timer_lag() == 0.0
    h.engine._disarm()  # the timer is lost, as in a wedged core
    h.engine._armed_for = h.clock.now() - 12.0
    assert h.engine.timer_lag() == pytest.approx(12.0)
