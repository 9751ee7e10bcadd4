"""`wait_set` keeps a cancellation that meets the event being set (3.11's `wait_for` loses it)."""

from __future__ import annotations

import asyncio

import pytest

from relevent.waits import wait_set


async def test_a_cancellation_in_the_turn_the_event_is_set_ends_the_waiting_loop() -> None:
    event = asyncio.Event()

    async def waiting_loop() -> None:
        while True:
            await wait_set(event, 10.0)
            event.clear()

    task = asyncio.create_task(waiting_loop())
    await asyncio.sleep(0)  # the loop waits
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1.0):
            await task


async def test_it_tells_a_set_event_from_a_timeout() -> None:
    event = asyncio.Event()
    assert not await wait_set(event, 0.01)
    event.set()
    assert await wait_set(event, 0.01)
    assert await wait_set(event, None)
