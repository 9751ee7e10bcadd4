"""How often the event loop turned while a block of the test ran."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


@asynccontextmanager
async def counted_turns() -> AsyncIterator[Callable[[], int]]:
    """The loop's turns since the block began, as a function (a coroutine beside it counts its own)."""
    turns = 0

    async def count() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.create_task(count())
    await asyncio.sleep(0)  # the counter waits for its first turn
    before = turns
    try:
        yield lambda: turns - before
    finally:
        counter.cancel()
