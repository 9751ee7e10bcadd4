"""Waiting for an event with a deadline, in a way that never loses a cancellation.

Python 3.11's `asyncio.wait_for` returns normally when the awaited event is set in the same loop turn
as the waiting task is cancelled: a loop around it then runs on for ever (a task that never ends, a
stop that hangs). `asyncio.timeout` keeps the cancellation.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Whether `event` was set within `timeout_s` (None: no limit)."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
