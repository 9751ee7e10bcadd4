"""The audit trail on disk: an append-only SQLite table whose rows form an HMAC-SHA256 chain.

Each row's `hash` is a MAC, under the gateway's audit key, of its own fields and the previous row's MAC: a
row changed, inserted or removed breaks the chain, and without the key it cannot be re-chained. The newest
rows are covered by the anchor (`audit_anchor`), a MAC'd copy of the head kept outside this file; rows
removed by retention by a MAC'd checkpoint of the last one removed, kept in the `meta` table.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

from relevent.errors import ReleventError

AUDIT_FILE = "audit.sqlite3"
GENESIS = "0" * 64
CHAIN = "hmac-sha256"  # the `meta` chain of a keyed trail; a trail without it is an old unkeyed one

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, protocol TEXT NOT NULL,
    peer TEXT NOT NULL, command TEXT NOT NULL, object TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
    result TEXT NOT NULL, reason TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
)""",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_INSERT = "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # the columns in schema order
_SELECT_ALL = "SELECT * FROM audit ORDER BY seq"
_SELECT_SINCE = "SELECT * FROM audit WHERE time >= ? ORDER BY seq"
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"
FILTERS = ("actor", "protocol", "result")  # the columns the status page filters the trail by


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


@dataclass(frozen=True, slots=True)
class Link:
    """A point of the chain: a row's sequence number and MAC (seq 0 and GENESIS: before the first row)."""

    seq: int
    mac: str

    def tag(self, key: bytes, kind: str) -> str:
        """The MAC that vouches for this link as a `kind` (anchor, checkpoint) to whoever holds the key."""
        return hmac.new(key, f"{kind}:{self.seq}:{self.mac}".encode(), hashlib.sha256).hexdigest()


def iso_time(timestamp: float) -> str:
    """The audit's time format for an epoch timestamp."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def chain_hash(key: bytes | None, seq: int, entry: AuditEntry, prev_hash: str) -> str:
    """The MAC of a row: HMAC-SHA256 over its fields and the previous MAC.

    Key None: plain SHA-256, the unkeyed chain of trails written before the key.
    """
    fields = [seq, *astuple(entry), prev_hash]
    canonical = json.dumps(fields, ensure_ascii=True, separators=(",", ":")).encode()
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


class AuditStore:
    """Appends entries durably (each append is one fsynced transaction) and reads them back."""

    def __init__(self, path: Path, key: bytes | None, *, readonly: bool = False) -> None:
        """Open (or create) the trail at `path`; `key` None opens it read only, to show it."""
        self.path = path
        self._key = key
        self.rekeyed = False  # whether this open keyed a trail from before the key
        try:
            if readonly or key is None:
                if not path.is_file():
                    raise AuditError(f"no audit log at {path}")
                self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            else:
                self._db = sqlite3.connect(path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")  # an audited change survives power loss
                for statement in _SCHEMA:
                    self._db.execute(statement)
            has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
            self.meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall()) if has_meta else {}
            if key is not None and not readonly and self.meta.get("chain") != CHAIN:
                self._key_the_chain()
            last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise AuditError(f"audit log {path}: {exc}") from None
        self.head = Link(int(last[0]), str(last[1])) if last else self.checkpoint

    @property
    def checkpoint(self) -> Link:
        """The last row retention removed (its MAC is the first kept row's prev_hash), or the genesis."""
        return Link(int(self.meta.get("base_seq", 0)), self.meta.get("base_mac", GENESIS))

    def append(self, entry: AuditEntry) -> AuditRow:
        """Chain `entry` onto the newest row and store it; raise `AuditError` when that fails."""
        seq = self.head.seq + 1
        row = AuditRow(seq, entry, self.head.mac, chain_hash(self._key, seq, entry, self.head.mac))
        try:
            self._db.execute(_INSERT, (row.seq, *astuple(entry), row.prev_hash, row.hash))
        except sqlite3.Error as exc:
            raise AuditError(f"audit append failed: {exc}") from None
        self.head = Link(row.seq, row.hash)
        return row

    def prune(self, before: str) -> int:
        """Remove the rows older than `before` (an `iso_time`), never the newest; how many went.

        The last one removed becomes the checkpoint, MAC'd so that it cannot be moved.
        """
        try:
            found = self._db.execute(
                "SELECT seq, hash FROM audit WHERE time < ? AND seq < ? ORDER BY seq DESC LIMIT 1",
                (before, self.head.seq),
            ).fetchone()
            if found is None:
                return 0
            base = Link(int(found[0]), str(found[1]))
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._db.execute("DELETE FROM audit WHERE seq <= ?", (base.seq,)).rowcount
                for name, value in self._checkpoint_meta(base).items():
                    self._db.execute(_SET_META, (name, value))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise AuditError(f"audit retention failed: {exc}") from None
        self.meta.update(self._checkpoint_meta(base))
        return int(gone)

    def _checkpoint_meta(self, base: Link) -> dict[str, str]:
        assert self._key is not None  # a writable store has its key
        tag = base.tag(self._key, "checkpoint")
        return {"base_seq": str(base.seq), "base_mac": base.mac, "base_tag": tag}

    def _key_the_chain(self) -> None:
        """Re-chain a trail written before the key under it, once its unkeyed chain is verified intact."""
        problem = first_broken(self, None)
        if problem is not None:
            raise AuditError(f"audit log {self.path} (unkeyed, from before the audit key): {problem}")
        prev = GENESIS
        self._db.execute("BEGIN IMMEDIATE")
        for row in list(self.rows()):
            mac = chain_hash(self._key, row.seq, row.entry, prev)
            self._db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, mac, row.seq))
            prev = mac
        self._db.execute(_SET_META, ("chain", CHAIN))
        self._db.execute("COMMIT")
        self.meta["chain"] = CHAIN
        self.rekeyed = True

    def rows(self, since: str | None = None) -> Iterator[AuditRow]:
        """Every row in sequence order; with `since` (an `iso_time`), those at or after it."""
        try:
            found = self._db.execute(_SELECT_SINCE, (since,)) if since else self._db.execute(_SELECT_ALL)
            for seq, *fields, prev_hash, digest in found:
                yield AuditRow(int(seq), AuditEntry(*map(str, fields)), str(prev_hash), str(digest))
        except sqlite3.Error as exc:
            raise AuditError(f"audit read failed: {exc}") from None

    def latest(self, limit: int, match: Mapping[str, str]) -> list[AuditRow]:
        """The newest `limit` rows, newest first, whose `actor`, `protocol` or `result` equal `match`'s."""
        columns = [name for name in FILTERS if match.get(name)]
        where = " AND ".join(f"{name} = ?" for name in columns) or "1"
        query = f"SELECT * FROM audit WHERE {where} ORDER BY seq DESC LIMIT ?"  # noqa: S608 - fixed names
        try:
            found = self._db.execute(query, (*(match[name] for name in columns), limit)).fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"audit read failed: {exc}") from None
        return [AuditRow(int(seq), AuditEntry(*map(str, fields)), str(prev), str(mac))
                for seq, *fields, prev, mac in found]  # fmt: skip

    def mac_of(self, seq: int) -> str | None:
        """The MAC of row `seq`, if the trail holds it."""
        try:
            found = self._db.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        except sqlite3.Error as exc:
            raise AuditError(f"audit read failed: {exc}") from None
        return str(found[0]) if found else None

    def close(self) -> None:
        """Release the database."""
        self._db.close()


def first_broken(store: AuditStore, key: bytes | None) -> str | None:
    """None when the chain is intact under `key`, else what is wrong with the first row that breaks it."""
    if key is not None and store.meta.get("chain") != CHAIN:
        return "the trail is not keyed yet (written before the audit key: start the gateway once)"
    start = store.checkpoint
    if key is not None and start.seq and not hmac.compare_digest(store.meta.get("base_tag", ""),
                                                                 start.tag(key, "checkpoint")):  # fmt: skip
        return f"the retention checkpoint (row {start.seq}) was modified"
    expected_seq, prev = start.seq + 1, start.mac
    for row in store.rows():
        if row.seq != expected_seq:
            return f"row {expected_seq} is missing (the next row is {row.seq})"
        if row.prev_hash != prev:
            return f"row {row.seq} does not follow row {row.seq - 1} (prev_hash differs)"
        if not hmac.compare_digest(chain_hash(key, row.seq, row.entry, row.prev_hash), row.hash):
            return f"row {row.seq} was modified (its MAC does not match its content)"
        expected_seq, prev = row.seq + 1, row.hash
    return None
