"""Start-up builds the objects that live as long as the process; keep the cyclic GC off them.

A 100-device site allocates millions of long-lived objects at start-up (the scheduler's schedules and
slots, the MMS reference tables). Collecting while they are built costs time for nothing, and every later
full collection would traverse them all again (a pause on the loop that fires the entry boundaries).
`gc.freeze` moves them to the permanent generation, which collections skip. Later full collections run
between entry boundaries (`full_collections`).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from relevent.timing import BURST_S, GC_LONGEST_WAIT_S, GC_PERIOD_S, GC_QUIET_S


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """No collection inside the block; afterwards everything alive is frozen out of later collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def release_free_c_heap() -> bool:
    """Hand the C heap's free pages back to the kernel (glibc `malloc_trim`); False without glibc.

    Start-up frees much of what it allocated (the SCL parse tree, the model build's temporaries) in the
    middle of the heap, where `free` keeps it resident (docs/performance.md, RSS).
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    trim(0)
    return True


# Full collections run from `full_collections`, not when the allocation counters say so: a boundary
# allocates thousands of status objects that outlive the young generations, so the collector's own rule
# ran full passes mostly inside a boundary's work (docs/performance.md). Their timing: `relevent.timing`.
_NEVER = 2**31 - 1  # gen2 threshold: full passes only on request


async def full_collections(time_to_next: Callable[[], float | None]) -> None:
    """Run the cyclic GC's full passes between entry boundaries; `time_to_next` is None when none is due.

    The young generations are still collected as usual (short passes); what moves is the pass over every
    object that has survived them.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    try:
        while True:
            await asyncio.sleep(GC_PERIOD_S)
            waited = 0.0
            while (ahead := time_to_next()) is not None and ahead < GC_QUIET_S and waited < GC_LONGEST_WAIT_S:
                step = max(ahead, 0.0) + BURST_S  # just past the instant (or an overdue one) and its burst
                await asyncio.sleep(step)
                waited += step
            gc.collect()
    finally:
        gc.set_threshold(young, middle, old)
