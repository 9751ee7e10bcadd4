"""Log throttling: at most one line per key and interval, with the count of the events it stood for."""

from __future__ import annotations

from collections.abc import Callable, Hashable

LOG_EVERY_S = 10.0  # the gateway's interval between two log lines of one repeated drop


class LogThrottle:
    """Lets one event per key through every `interval_s`; counts the events it holds back meanwhile.

    Keys must come from a bounded set (reasons, configured device ids): one entry is kept per key.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float]) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def let(self, key: Hashable) -> int | None:
        """None: hold this event back. Else it goes through, standing for itself and the returned count."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)
