"""Scheduler test fixtures: a database path per test, and its stores closed after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scheduler.harness import OPENED


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Close what the test's engines left open (a store is three files): a later test sees none of it."""
    yield
    while OPENED:
        OPENED.pop().close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh SQLite store file."""
    return tmp_path / "scheduler.sqlite"
