"""Each controller's forecast, computed once and served until the engine changes what it depends on.

A forecast is a pure function of the schedules' state: as time passes without a command, the one computed
earlier stays right, cut to the new window (`window`). The engine drops a controller's entry when a command
changes its schedules or binding, and every entry at a clock step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from relevent.scheduler.forecast import ForecastPoint, window
from relevent.scheduler.values import Timestamp

# A forecast is computed this far beyond the window asked for: the window moves on with the clock, and the
# same forecast serves the next hour's calls (a status page asks every second, the plans every minute).
SLACK_S = 3600.0

# (full controller reference, start, until) -> `output_changes` of that controller from `start`.
Compute = Callable[[str, Timestamp, Timestamp], list[ForecastPoint]]


@dataclass(frozen=True)
class _Entry:
    changes: list[ForecastPoint]
    until: Timestamp


class ForecastCache:
    """Forecasts by full controller reference; `computed` counts the forecasts actually computed."""

    def __init__(self, compute: Compute) -> None:
        self._compute = compute
        self._entries: dict[str, _Entry] = {}
        self.computed = 0

    def get(self, controller_ref: str, t0: Timestamp, t1: Timestamp, now: Timestamp) -> list[ForecastPoint]:
        """The forecast over [max(t0, now), t1], equal values merged (as `forecast.forecast`)."""
        start = max(t0, now)
        if t1 < start:
            return []
        entry = self._entries.get(controller_ref)
        if entry is None or entry.until < t1 or entry.changes[0].time > now:
            until = t1 + SLACK_S
            entry = _Entry(self._compute(controller_ref, now, until), until)
            self._entries[controller_ref] = entry
            self.computed += 1
        return window(entry.changes, start, t1)

    def invalidate(self, controller_refs: Iterable[str] | None = None) -> None:
        """Forget the forecasts of `controller_refs` (all of them when None)."""
        if controller_refs is None:
            self._entries.clear()
            return
        for ref in controller_refs:
            self._entries.pop(ref, None)
