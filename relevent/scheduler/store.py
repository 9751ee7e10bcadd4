"""Persistence of schedule and controller state: a small interface and its SQLite (WAL) implementation."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from relevent.errors import ReleventError
from relevent.scheduler.controller import ControllerRecord
from relevent.scheduler.periodic import CalendarTime
from relevent.scheduler.restore import StoredState
from relevent.scheduler.schedule import EnaErr, Run, ScheduleParams, ScheduleRecord
from relevent.scheduler.starts import StartTime
from relevent.timerange import check_time

SCHEMA_VERSION = 1
# Beside the store, written once its first state is committed: a store found empty (deleted, truncated to
# zero length) while this file exists has lost that state, which is not the same as a first start.
MARKER_SUFFIX = ".written"

_log = structlog.get_logger(__name__)


class StoreError(ReleventError):
    """The store cannot be read or written."""


class Store(Protocol):
    """Where the engine keeps its state; `commit` is atomic and durable when it returns."""

    def load(self) -> StoredState:
        """Return everything stored."""
        ...

    def commit(
        self,
        schedules: Sequence[ScheduleRecord] = (),
        controllers: Sequence[ControllerRecord] = (),
        dropped: Sequence[str] = (),
        keys: Mapping[str, str | None] | None = None,
    ) -> None:
        """Store records and intent keys (None: forget one), delete the rows of `dropped`: one transaction.

        Raise `StoreError` when it fails.
        """
        ...

    def close(self) -> None:
        """Release the store."""
        ...


class SqliteStore:
    """SQLite in WAL mode with synchronous=FULL: a commit survives a power loss once it returned.

    `lost` says why the store opened empty although it held state before (see `MARKER_SUFFIX`), else None.
    """

    def __init__(self, path: str | Path) -> None:
        self._marker = Path(f"{path}{MARKER_SUFFIX}")
        try:
            # The engine commits on its writer thread too, never while the loop uses the connection.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS schedule (ref TEXT PRIMARY KEY, data TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS controller (ref TEXT PRIMARY KEY, data TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS intent_key (ref TEXT PRIMARY KEY, key TEXT NOT NULL);"
            )
            self._check_version()
            self.lost = self._lost_state()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc
        self._marked = self._marker.exists()

    def load(self) -> StoredState:
        """Return everything stored; undecodable rows (times out of range too) are reported, not raised."""
        schedules: dict[str, ScheduleRecord] = {}
        controllers: dict[str, ControllerRecord] = {}
        unreadable: dict[str, str] = {}
        try:
            for ref, data in self._db.execute("SELECT ref, data FROM schedule"):
                try:
                    schedules[ref] = _decode_schedule(ref, json.loads(data))
                except (KeyError, TypeError, ValueError) as exc:
                    unreadable[ref] = _why(exc)
            for ref, data in self._db.execute("SELECT ref, data FROM controller"):
                try:
                    decoded = json.loads(data)
                    controllers[ref] = ControllerRecord(
                        ref, tuple(decoded["schedule_refs"]), decoded["ctl_ent"]
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    unreadable[ref] = _why(exc)
            keys = dict(self._db.execute("SELECT ref, key FROM intent_key"))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store: {exc}") from exc
        return StoredState(schedules, controllers, unreadable, keys)

    def commit(
        self,
        schedules: Sequence[ScheduleRecord] = (),
        controllers: Sequence[ControllerRecord] = (),
        dropped: Sequence[str] = (),
        keys: Mapping[str, str | None] | None = None,
    ) -> None:
        """Store records and intent keys and delete the rows of `dropped` refs in one transaction."""
        keys = keys or {}
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM schedule WHERE ref = ?", [(ref,) for ref in dropped])
                self._db.executemany("DELETE FROM controller WHERE ref = ?", [(ref,) for ref in dropped])
                forgotten = [*dropped, *(ref for ref, key in keys.items() if key is None)]
                self._db.executemany("DELETE FROM intent_key WHERE ref = ?", [(ref,) for ref in forgotten])
                self._db.executemany(
                    "INSERT OR REPLACE INTO intent_key (ref, key) VALUES (?, ?)",
                    [(ref, key) for ref, key in keys.items() if key is not None],
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO schedule (ref, data) VALUES (?, ?)",
                    [(r.ref, json.dumps(_encode_schedule(r))) for r in schedules],
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO controller (ref, data) VALUES (?, ?)",
                    [
                        (r.ref, json.dumps({"schedule_refs": r.schedule_refs, "ctl_ent": r.ctl_ent}))
                        for r in controllers
                    ],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the store: {exc}") from exc
        if not self._marked and (schedules or controllers):
            self._mark()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _lost_state(self) -> str | None:
        if not self._marker.exists():
            return None
        (holds_state,) = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM schedule) OR EXISTS (SELECT 1 FROM controller)"
        ).fetchone()
        if holds_state:
            return None
        _log.warning("schedule store is empty but held state before: the SCL model's state is used",
                     marker=str(self._marker))  # fmt: skip
        return f"empty, but {self._marker.name} says it held state: every schedule restarts from the SCL"

    def _mark(self) -> None:
        """Leave the marker, durably, before anyone could lose what was just stored (tried once)."""
        self._marked = True
        try:
            with self._marker.open("w", encoding="utf-8") as marker:
                stamp = datetime.now(UTC).isoformat()
                marker.write(f"{stamp} relevent-gw stored schedule state beside this file; should the store "
                             "be found empty, the gateway warns and audits at its start\n")  # fmt: skip
                marker.flush()
                os.fsync(marker.fileno())
            directory = os.open(self._marker.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:  # the commit stands; only a later loss would go unnoticed
            _log.warning("store marker not written", marker=str(self._marker), error=str(exc))

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and row[0] == str(SCHEMA_VERSION):
            return
        if row is not None:
            # An unknown layout cannot be read safely: start empty rather than apply half of it.
            _log.warning(
                "store schema version differs, stored state dropped", found=row[0], expected=SCHEMA_VERSION
            )
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM schedule")
        self._db.execute("DELETE FROM controller")
        self._db.execute("DELETE FROM intent_key")
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        self._db.execute("COMMIT")


def _why(exc: Exception) -> str:
    """Why a row could not be decoded, for the log and the audit trail."""
    return f"field {exc} missing" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"


def _encode_start(start: StartTime) -> dict[str, Any]:
    return {"set_tm": start.set_tm, "cal": dataclasses.asdict(start.cal) if start.cal else None}


def _decode_start(data: dict[str, Any]) -> StartTime:
    cal = data["cal"]
    set_tm = check_time(float(data["set_tm"]), "set_tm")
    return StartTime(set_tm, CalendarTime(**cal) if cal is not None else None)


def _encode_schedule(record: ScheduleRecord) -> dict[str, Any]:
    params, run = record.params, record.run
    return {
        "kind": record.kind,
        "params": {
            "values": list(params.values),
            "num_entr": params.num_entr,
            "schd_intv": params.schd_intv,
            "schd_prio": params.schd_prio,
            "starts": [_encode_start(s) for s in params.starts],
            "reuse": params.reuse,
        },
        "enabled": record.enabled,
        "ena_err": int(record.ena_err),
        "run": None
        if run is None
        else {
            "start": run.start,
            "slot": run.slot,
            "origin": _encode_start(run.origin),
            "num_entr": run.num_entr,
            "intv": run.intv,
        },
        "entry": record.entry,
        "value": record.value,
        "at": record.at,
    }


def _decode_schedule(ref: str, data: dict[str, Any]) -> ScheduleRecord:
    p, run = data["params"], data["run"]
    params = ScheduleParams(
        values=tuple(p["values"]),
        num_entr=int(p["num_entr"]),
        schd_intv=int(p["schd_intv"]),
        schd_prio=int(p["schd_prio"]),
        starts=tuple(_decode_start(s) for s in p["starts"]),
        reuse=bool(p["reuse"]),
    )
    return ScheduleRecord(
        ref=ref,
        kind=str(data["kind"]),
        params=params,
        enabled=bool(data["enabled"]),
        ena_err=EnaErr(data["ena_err"]),
        run=None
        if run is None
        else Run(
            check_time(float(run["start"]), "run start"),
            int(run["slot"]),
            _decode_start(run["origin"]),
            int(run["num_entr"]),
            float(run["intv"]),
        ),
        entry=int(data["entry"]),
        value=data["value"],
        at=check_time(float(data["at"]), "at"),
    )
