"""Throttling of failed ACSE authentications per client host, logged in aggregate.

Without it a password could be guessed at ~92 tries per second, one log line each. After every failed
authentication the host's next connections are refused for a delay that doubles with each failure of its
streak (`delay_s`, 2 x, 4 x ... up to `max_delay_s`); a streak is forgotten once the host stayed quiet
for `max_delay_s` after its refusal ended. Failures and refused connections are logged at the 1st, 2nd,
4th, 8th ... of a streak, each line with the count so far: a guesser costs a few lines, not one per try.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from relevent.config import MmsSection, default
from relevent.wan.mms.tally import is_logged

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """The refusal after a host's first failed authentication, and its cap."""

    delay_s: float = default(MmsSection, "auth_failure_delay_s")
    max_delay_s: float = default(MmsSection, "auth_failure_max_delay_s")


@dataclass(slots=True)
class _Streak:
    failures: int = 0
    refused: int = 0  # connections refused during this streak
    until: float = 0.0  # refused until then (monotonic)


class AuthThrottle:
    """Failed authentications by host, on the loop thread."""

    def __init__(
        self,
        settings: ThrottleSettings,
        *,
        on_failure: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._on_failure = on_failure
        self._clock = clock
        self._streaks: dict[str, _Streak] = {}

    def failed(self, host: str) -> None:
        """`host` failed to authenticate: refuse it for the next, longer delay."""
        now = self._clock()
        streak = self._streak(host, now)
        streak.failures += 1
        delay = min(self._settings.max_delay_s, self._settings.delay_s * 2 ** (streak.failures - 1))
        streak.until = now + delay
        self._on_failure()
        if is_logged(streak.failures):  # the credential itself is never logged
            log.warning("mms association refused", method="password", host=host,
                        failures=streak.failures, refused_for_s=delay)  # fmt: skip

    def refuses(self, host: str) -> bool:
        """Whether a connection from `host` is refused now (counted and logged in aggregate when it is)."""
        now = self._clock()
        streak = self._streaks.get(host)
        if streak is None or now >= streak.until:
            return False
        streak.refused += 1
        if is_logged(streak.refused):
            log.warning("mms connections refused after failed authentications", host=host,
                        refused=streak.refused, for_s=round(streak.until - now, 3))  # fmt: skip
        return True

    def _streak(self, host: str, now: float) -> _Streak:
        streak = self._streaks.get(host)
        if streak is None or now >= streak.until + self._settings.max_delay_s:
            self._forget(now)
            streak = self._streaks[host] = _Streak()
        return streak

    def _forget(self, now: float) -> None:
        """Drop forgotten streaks, so many hosts cannot grow the table for good."""
        quiet = self._settings.max_delay_s
        self._streaks = {host: s for host, s in self._streaks.items() if now < s.until + quiet}
