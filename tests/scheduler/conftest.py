"""Scheduler test fixtures: a database path per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A fresh SQLite store file."""
    return tmp_path / "scheduler.sqlite"
