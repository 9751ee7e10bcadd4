"""The wall clock the engine reads: UTC epoch seconds, injectable so tests run on fake time."""

from __future__ import annotations

import time
from typing import Protocol

from relevent.scheduler.values import Timestamp


class Clock(Protocol):
    """A source of UTC wall time."""

    def now(self) -> Timestamp:
        """Return the current UTC time in epoch seconds."""
        ...


class SystemClock:
    """The system's UTC clock (NTP may step it: `Engine.watch_clock` follows)."""

    def now(self) -> Timestamp:
        """Return `time.time()`."""
        return time.time()
