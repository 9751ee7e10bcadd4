"""The start-up heap is built without collections and frozen out of later ones."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
from collections.abc import Callable

import pytest

from relevent import heap
from relevent.heap import long_lived_heap, release_free_c_heap
from relevent.timing import GC_LONGEST_WAIT_S, GC_PERIOD_S
from tests.daemon import rss_kb


def test_no_collection_inside_and_everything_built_is_frozen_after() -> None:
    gc.unfreeze()
    try:
        with long_lived_heap():
            assert not gc.isenabled()
            built = [[n] for n in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(built)
    finally:
        gc.unfreeze()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with long_lived_heap():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


async def _collections(time_to_next: Callable[[], float | None], until: float) -> list[float]:
    """The loop times at which `full_collections` ran a full pass, over `until` seconds of loop time."""
    loop = asyncio.get_running_loop()
    times: list[float] = []

    def collect(*_: object) -> int:
        times.append(loop.time())
        return 0

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", collect)
        task = asyncio.create_task(heap.full_collections(time_to_next))
        await asyncio.sleep(until)
        assert gc.get_threshold()[2] > 10**9  # no full pass by the collector's own rule meanwhile
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return times


@pytest.mark.looptime(start=0)
async def test_full_passes_run_periodically_and_the_threshold_comes_back() -> None:
    before = gc.get_threshold()
    times = await _collections(lambda: None, until=3.5 * GC_PERIOD_S)
    assert times == [pytest.approx(k * GC_PERIOD_S) for k in (1, 2, 3)]
    assert gc.get_threshold() == before


@pytest.mark.looptime(start=0)
async def test_a_full_pass_waits_until_the_next_instant_is_far_enough() -> None:
    loop = asyncio.get_running_loop()
    boundaries = [GC_PERIOD_S + 0.1 * k for k in range(1, 4)]  # three instants close together

    def time_to_next() -> float | None:
        ahead = [b - loop.time() for b in boundaries if b > loop.time()]
        return min(ahead) if ahead else None

    times = await _collections(time_to_next, until=GC_PERIOD_S + 1)
    assert len(times) == 1
    assert times[0] > boundaries[-1]  # after the last instant, not between them


@pytest.mark.looptime(start=0)
@pytest.mark.parametrize("ahead", [0.1, -5.0], ids=["always close", "overdue (a stalled timer)"])
async def test_without_a_quiet_window_a_full_pass_still_runs_after_the_longest_wait(ahead: float) -> None:
    times = await _collections(lambda: ahead, until=GC_PERIOD_S + GC_LONGEST_WAIT_S + 1)
    assert len(times) == 1
    assert GC_PERIOD_S + GC_LONGEST_WAIT_S <= times[0] < GC_PERIOD_S + GC_LONGEST_WAIT_S + 1


def test_free_c_heap_pages_go_back_to_the_kernel() -> None:
    """64 MiB of small blocks freed below one still in use stay resident until released."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(16384)]  # below the mmap threshold: from the heap
    for block in blocks:
        ctypes.memset(block, 1, 4096)  # resident
    pin = libc.malloc(4096)  # keeps the heap's top in place: `free` alone cannot shrink it
    for block in blocks:
        libc.free(block)
    before = rss_kb(os.getpid())
    try:
        assert release_free_c_heap()
        assert before - rss_kb(os.getpid()) > 32 * 1024
    finally:
        libc.free(pin)
