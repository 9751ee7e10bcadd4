"""SQLite files the tests read or edit behind the gateway's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def opened(path: Path | str, *, uri: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection committed (or rolled back) and closed when the block ends.

    sqlite3's own `with connection:` only commits: the connection and its files stay open until a garbage
    collection, which a later test then sees closing them.
    """
    db = sqlite3.connect(path, uri=uri)
    try:
        with db:
            yield db
    finally:
        db.close()
