"""The wall clock the engine reads: UTC epoch seconds, injectable so tests run on fake time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from relevent.scheduler.values import Timestamp


class Clock(Protocol):
    """A source of UTC wall time."""

    def now(self) -> Timestamp:
        """Return the current UTC time in epoch seconds."""
        ...


class SystemClock:
    """The system's UTC clock (NTP may step it: call `Engine.clock_stepped` when it does)."""

    def now(self) -> Timestamp:
        """Return `time.time()`."""
        return time.time()


async def watch_wall_clock(
    clock: Clock, on_step: Callable[[float], None], period_s: float = 1.0, tolerance_s: float = 0.25
) -> None:
    """Call `on_step(offset change)` whenever the wall clock moves against the loop's monotonic clock.

    NTP steps (or an operator's `date -s`) move wall time but not loop time; timers armed in loop time
    would fire at the wrong wall instant until re-armed. Slews of a few ms per second stay below
    `tolerance_s` and are absorbed by the engine's nominal-time timers.
    """
    loop = asyncio.get_running_loop()
    offset = clock.now() - loop.time()
    while True:
        await asyncio.sleep(period_s)
        current = clock.now() - loop.time()
        if abs(current - offset) > tolerance_s:
            on_step(current - offset)
        offset = current
