"""A device's recent measured power beside what it was asked, for the status page's device charts."""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any

TRACE_LIMIT = 2000  # points kept per series and device: memory stays bounded at any fleet size
STEADY_S = 60.0  # an unchanged measurement is kept once a minute (the chart holds it in between)
# Points per series handed to the page: a device chart is a few hundred pixels wide, and a hundred
# devices' traces ride along every status update.
SHOWN_POINTS = 60


class DeviceTrace:
    """Measured W and the asked `w_set` / `w_max_lim` as steps in time: changes only, bounded."""

    def __init__(self, limit: int = TRACE_LIMIT) -> None:
        self._measured: deque[tuple[float, float]] = deque(maxlen=limit)
        self._asked: deque[tuple[float, float | None, float | None]] = deque(maxlen=limit)

    def measure(self, t: float, w: float) -> None:
        """A measurement at `t`: kept when it changed, or a minute after the last one kept."""
        last = self._measured[-1] if self._measured else None
        if last is None or last[1] != w or t - last[0] >= STEADY_S:
            self._measured.append((t, w))

    def ask(self, t: float, w_set: float | None, w_max_lim: float | None) -> None:
        """An intent at `t`: kept when its setpoint or limit changed."""
        if not self._asked or self._asked[-1][1:] != (w_set, w_max_lim):
            self._asked.append((t, w_set, w_max_lim))

    def since(self, t0: float) -> dict[str, list[list[Any]]]:
        """The steps from `t0` on, each series led by the step in force at `t0`."""
        return {"measured": _from(self._measured, t0), "asked": _from(self._asked, t0)}


def _from(steps: deque[Any], t0: float) -> list[list[Any]]:
    """The steps at or after `t0` and the one before them (its value holds at `t0`).

    Thinned evenly to `SHOWN_POINTS`, the newest always among them.
    """
    first = len(steps)
    while first > 0 and steps[first - 1][0] > t0:
        first -= 1
    shown = list(islice(steps, max(0, first - 1), None))
    stride = max(1, -(-len(shown) // SHOWN_POINTS))  # ceiling division
    return [list(step) for step in shown[::-1][::stride][::-1]]
