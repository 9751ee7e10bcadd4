"""Refusals logged in aggregate: a flood costs a few log lines, not one per connection."""

from __future__ import annotations

import structlog

from relevent.wan.mms.guard import Reason

log = structlog.get_logger(__name__)

_KEYS_KEPT = 1024  # (host, reason) counts kept; then all are forgotten (a flood from many addresses)


def is_logged(count: int) -> bool:
    """Whether the `count`th occurrence is logged: the 1st, 2nd, 4th, 8th ... (log2 n lines for n)."""
    return count > 0 and count & (count - 1) == 0


class Tally:
    """Refused connections by host and reason, each logged with its count at the 1st, 2nd, 4th ..."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, Reason], int] = {}

    def add(self, host: str, reason: Reason) -> None:
        """Count one refusal of `host` for `reason`, and log it when due."""
        if len(self._counts) >= _KEYS_KEPT and (host, reason) not in self._counts:
            self._counts.clear()
        count = self._counts[host, reason] = self._counts.get((host, reason), 0) + 1
        if is_logged(count):
            log.warning("mms connections refused", host=host, reason=reason, count=count)
