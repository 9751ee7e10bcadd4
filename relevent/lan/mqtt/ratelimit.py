"""A token bucket: a sustained rate with room for bursts, on an injected monotonic clock."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second accrue up to `burst`; each admitted event takes one."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {rate} and {burst}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def take(self) -> bool:
        """Take one token if there is one: whether the event is admitted."""
        now = self._clock()
        # A clock that never goes back is assumed; max() keeps a misbehaving one from draining the bucket.
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
