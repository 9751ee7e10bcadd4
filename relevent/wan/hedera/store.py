"""What the adapter must remember across a restart: its HEDERA schedules and the fallbacks in force.

One small SQLite file in the state directory; every change is committed before the adapter goes on, so a
restart resumes polling or refreshing each schedule and knows which directions run on firm capacity.
"""

from __future__ import annotations

import sqlite3
from dataclasses import astuple, dataclass
from pathlib import Path

from relevent.errors import StartupError

STORE_FILE = "hedera.sqlite3"
POSTING = "posting"  # the phase of a POST not answered yet: its id is a placeholder, not HEDERA's
_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY, direction TEXT NOT NULL, phase TEXT NOT NULL, request_id TEXT,
    start REAL NOT NULL, resolution_s INTEGER NOT NULL, n INTEGER NOT NULL, posted_at REAL NOT NULL,
    reply_topic TEXT
);
CREATE TABLE IF NOT EXISTS fallback (direction TEXT PRIMARY KEY, reason TEXT NOT NULL, since REAL NOT NULL);
"""


@dataclass(frozen=True)
class StoredSchedule:
    """A schedule the adapter created: `posting` (its POST unanswered), `pending` or `grant` (applied)."""

    id: str
    direction: str
    phase: str
    request_id: str | None
    start: float
    resolution_s: int
    n: int
    posted_at: float
    reply_topic: str | None

    @property
    def end(self) -> float:
        """When its last period ends."""
        return self.start + self.resolution_s * self.n


class HederaStore:
    """The adapter's rows; `path` None keeps them in memory (tests)."""

    def __init__(self, path: Path | None) -> None:
        try:
            self._db = sqlite3.connect(":memory:" if path is None else path, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StartupError(f"HEDERA store {path}: {exc}") from None

    def save(self, row: StoredSchedule) -> None:
        """Insert or replace a schedule's row."""
        self._db.execute("INSERT OR REPLACE INTO schedules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", astuple(row))

    def replace(self, old_id: str, row: StoredSchedule) -> None:
        """Put `row` in the place of `old_id` in one transaction (a crash leaves one of them, never both)."""
        self._db.execute("BEGIN")
        try:
            self._db.execute("DELETE FROM schedules WHERE id = ?", (old_id,))
            self.save(row)
        except sqlite3.Error:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def forget(self, schedule_id: str) -> None:
        """Drop a schedule's row."""
        self._db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))

    def schedules(self) -> list[StoredSchedule]:
        """Every stored schedule, oldest first."""
        rows = self._db.execute("SELECT * FROM schedules ORDER BY posted_at").fetchall()
        return [StoredSchedule(*row) for row in rows]

    def set_fallback(self, direction: str, reason: str | None, since: float) -> None:
        """Record the direction's fallback (`reason`) or its end (None)."""
        if reason is None:
            self._db.execute("DELETE FROM fallback WHERE direction = ?", (direction,))
        else:
            self._db.execute("INSERT OR REPLACE INTO fallback VALUES (?, ?, ?)", (direction, reason, since))

    def fallbacks(self) -> dict[str, str]:
        """The directions on firm capacity, with the reason."""
        return dict(self._db.execute("SELECT direction, reason FROM fallback").fetchall())

    def close(self) -> None:
        """Close the database."""
        self._db.close()
