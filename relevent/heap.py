"""Start-up builds the objects that live as long as the process; keep the cyclic GC off them.

A 100-device site allocates millions of long-lived objects at start-up (the scheduler's schedules and
slots, the MMS reference tables). Collecting while they are built costs time for nothing, and every later
full collection would traverse them all again (a pause on the loop that fires the entry boundaries).
`gc.freeze` moves them to the permanent generation, which collections skip.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
