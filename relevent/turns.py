"""Loop turns: work asked for many times in one turn done once at its end; long work spread over turns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class OncePerTurn:
    """Runs `action` once after the burst of calls to `ask` of one loop turn (or of `after_s`).

    A boundary or a command emits many events in one turn; what follows from them is worth doing once,
    after all of them. `after_s` > 0 gathers the asks of that long instead, for work that may lag and is
    better kept off the path of what the turn started (a synced file write behind a command's effects).
    """

    def __init__(self, action: Callable[[], None], *, after_s: float = 0.0) -> None:
        self._action = action
        self._after_s = after_s
        self._due = False

    def ask(self) -> None:
        """Run the action at the end of this loop turn; at once without a running loop (start-up, tools)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._action()
            return
        if not self._due:
            self._due = True
            if self._after_s > 0:
                loop.call_later(self._after_s, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Run the action now if it is due (before closing what it uses); the queued call then skips it."""
        if self._due:
            self._due = False
            self._action()


class Slices:
    """Long work on the loop in slices: `step` after each piece turns the loop once a slice took `slice_s`.

    The loop's other work (an entry boundary's commands, a request) then waits at most one slice and
    one piece, however long the whole job is.
    """

    def __init__(self, slice_s: float) -> None:
        self._slice_s = slice_s
        self._began = time.perf_counter()

    async def step(self) -> None:
        """Let the loop turn if this slice is used up."""
        if time.perf_counter() - self._began > self._slice_s:
            await asyncio.sleep(0)
            self._began = time.perf_counter()
