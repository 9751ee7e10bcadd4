"""Work asked for many times in one turn of the event loop, done once at the end of that turn."""

from __future__ import annotations

import asyncio
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
