"""The audit trail on disk: an append-only SQLite table whose rows form a SHA-256 hash chain.

Each row's `hash` covers its own fields and the previous row's hash, so changing a row breaks its own hash
and deleting one breaks the sequence and the chain at the next row. Deleting the newest rows leaves a
valid shorter chain: the journal's `audit` lines carry each row's hash as an independent witness.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

from relevent.errors import ReleventError

AUDIT_FILE = "audit.sqlite3"
GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, protocol TEXT NOT NULL,
    peer TEXT NOT NULL, command TEXT NOT NULL, object TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
    result TEXT NOT NULL, reason TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
)"""
_INSERT = "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # the columns in schema order
_SELECT_ALL = "SELECT * FROM audit ORDER BY seq"
_SELECT_SINCE = "SELECT * FROM audit WHERE time >= ? ORDER BY seq"


class AuditError(ReleventError):
    """The audit store cannot be opened, read or written."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited change before it is chained. `old` and `new` are JSON texts; `actor` "" is anonymous."""

    time: str  # ISO 8601, UTC, microseconds: sorts as text
    actor: str
    protocol: str
    peer: str
    command: str
    object: str
    old: str
    new: str
    result: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuditRow:
    """A stored entry with its place in the chain."""

    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


def iso_time(timestamp: float) -> str:
    """The audit's time format for an epoch timestamp."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def chain_hash(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of the row's fields and the previous hash."""
    canonical = json.dumps([seq, *astuple(entry), prev_hash], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditStore:
    """Appends entries durably (each append is one fsynced transaction) and reads them back."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        try:
            if readonly:
                if not path.is_file():
                    raise AuditError(f"no audit log at {path}")
                self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            else:
                self._db = sqlite3.connect(path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")  # an audited change survives power loss
                self._db.execute(_SCHEMA)
            last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise AuditError(f"audit log {path}: {exc}") from None
        self._seq, self._head = (int(last[0]), str(last[1])) if last else (0, GENESIS)

    def append(self, entry: AuditEntry) -> AuditRow:
        """Chain `entry` onto the newest row and store it; raise `AuditError` when that fails."""
        row = AuditRow(self._seq + 1, entry, self._head, chain_hash(self._seq + 1, entry, self._head))
        try:
            self._db.execute(_INSERT, (row.seq, *astuple(entry), row.prev_hash, row.hash))
        except sqlite3.Error as exc:
            raise AuditError(f"audit append failed: {exc}") from None
        self._seq, self._head = row.seq, row.hash
        return row

    def rows(self, since: str | None = None) -> Iterator[AuditRow]:
        """Every row in sequence order; with `since` (an `iso_time`), those at or after it."""
        try:
            found = self._db.execute(_SELECT_SINCE, (since,)) if since else self._db.execute(_SELECT_ALL)
            for seq, *fields, prev_hash, digest in found:
                yield AuditRow(int(seq), AuditEntry(*map(str, fields)), str(prev_hash), str(digest))
        except sqlite3.Error as exc:
            raise AuditError(f"audit read failed: {exc}") from None

    def close(self) -> None:
        """Release the database."""
        self._db.close()


def first_broken(store: AuditStore) -> str | None:
    """None when the chain is intact, else what is wrong with the first row that breaks it."""
    expected_seq, prev = 1, GENESIS
    for row in store.rows():
        if row.seq != expected_seq:
            return f"row {expected_seq} is missing (the next row is {row.seq})"
        if row.prev_hash != prev:
            return f"row {row.seq} does not follow row {row.seq - 1} (prev_hash differs)"
        if chain_hash(row.seq, row.entry, row.prev_hash) != row.hash:
            return f"row {row.seq} was modified (its hash does not match its content)"
        expected_seq, prev = row.seq + 1, row.hash
    return None
