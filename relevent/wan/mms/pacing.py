"""The MMS side keeps out of the scheduler's way: quiet windows around its instants, mirroring in slices.

Callback work (`LoopHop`) waits from `QUIET_BEFORE_S` before a scheduler instant to `QUIET_AFTER_S` after
it (`quiet_for`), so an entry boundary's timer finds the loop free. Model updates go through a `Pacer`:
applied in order, a slice of at most `SLICE_S` at a time, never from `QUIET_BEFORE_S` before an instant to
`BURST_S` after it, while the instant's device commands leave. A large site's boundary status is thousands of
`IedServer_update*` calls, each scanning every buffered report block's data set: applied in one go, it held
the loop and the next boundaries' device commands behind it (docs/performance.md). The constants and their
relations: `relevent.timing`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from relevent.timing import BURST_S, QUIET_AFTER_S, QUIET_BEFORE_S, SLICE_S

T = TypeVar("T")
TimeToNext = Callable[[], float | None]  # seconds to the scheduler's next instant (None: none due)


def quiet_for(ahead: float | None, after: float = QUIET_AFTER_S) -> float:
    """How long to hold MMS work back when the next scheduler instant is `ahead` seconds away.

    Within [instant - QUIET_BEFORE_S, instant + after): until the window's end; else 0. An instant
    that stays due (a late or wedged timer) holds work back once per window, never for good.
    """
    if ahead is None or not -after < ahead < QUIET_BEFORE_S:
        return 0.0
    return ahead + after


class Pacer(Generic[T]):
    """Applies queued items in order on the loop, in slices between the scheduler's instants.

    `drain()` applies the rest at once (before a client's write is answered). Call everything on the loop
    thread.
    """

    def __init__(self, apply: Callable[[T], None], time_to_next: TimeToNext = lambda: None) -> None:
        self._apply = apply
        self.time_to_next = time_to_next
        self._queue: deque[T] = deque()
        self._turn: asyncio.TimerHandle | asyncio.Handle | None = None

    @property
    def pending(self) -> int:
        """Items queued and not yet applied."""
        return len(self._queue)

    def submit(self, items: Iterable[T]) -> None:
        """Queue `items` behind everything queued before; the first slice runs on the loop's next turn."""
        self._queue.extend(items)
        if self._queue and self._turn is None:
            self._turn = asyncio.get_running_loop().call_soon(self._slice)

    def drain(self) -> None:
        """Apply everything queued now, quiet window or not."""
        self._stop_turns()
        try:
            self._apply_while(lambda: True)
        finally:  # after an item that raised, the rest follow in slices
            if self._queue:
                self._turn = asyncio.get_running_loop().call_soon(self._slice)

    def cancel(self) -> None:
        """Drop what is queued (the target is going away)."""
        self._stop_turns()
        self._queue.clear()

    def _stop_turns(self) -> None:
        if self._turn is not None:
            self._turn.cancel()
            self._turn = None

    def _slice(self) -> None:
        loop = asyncio.get_running_loop()
        if (wait_s := quiet_for(self.time_to_next(), BURST_S)) > 0:
            self._turn = loop.call_later(wait_s, self._slice)
            return
        until = time.perf_counter() + SLICE_S
        try:
            self._apply_while(lambda: time.perf_counter() < until)
        finally:  # an item that raised is dropped (the loop logs it); the rest go on
            self._turn = loop.call_soon(self._slice) if self._queue else None

    def _apply_while(self, more: Callable[[], bool]) -> None:
        queue, apply = self._queue, self._apply
        while queue and more():
            apply(queue.popleft())
