"""The start-up heap is built without collections and frozen out of later ones."""

from __future__ import annotations

import gc

from relevent.heap import long_lived_heap


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
