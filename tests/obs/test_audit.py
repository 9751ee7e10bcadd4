"""The audit trail: a hash chain in SQLite that `relevent-gw audit verify` checks and `audit show` prints."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from relevent.obs.audit import AuditLog
from relevent.obs.audit_store import AUDIT_FILE, AuditEntry, AuditStore, chain_hash, first_broken
from relevent.scheduler.commands import ACCEPTED, Actor, Rejected, RejectReason
from relevent.scheduler.events import CommandHandled
from tests.daemon import run_cli

OBJECT = "DER_Scheduler_Control/MaxPow_FSCH01.SchdPrio.setVal"
T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def _trail(state_dir: Path, count: int = 4) -> Path:
    """A store with `count` changes: accepted writes, every other one refused."""
    store = AuditStore(state_dir / AUDIT_FILE)
    log = AuditLog(store)
    for i in range(count):
        result = ACCEPTED if i % 2 == 0 else Rejected(RejectReason.ACCESS_DENIED, "beyond its rights")
        actor = Actor("mms", "127.0.0.1:40000", "market" if i % 2 else "dso")
        log.on_event(CommandHandled("write", OBJECT, actor, i, i + 1, result, T0 + 60 * i))
    store.close()
    return state_dir / AUDIT_FILE


def _problem(path: Path) -> str | None:
    store = AuditStore(path, readonly=True)
    try:
        return first_broken(store)
    finally:
        store.close()


def _sql(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement)


def test_an_untouched_trail_verifies(tmp_path: Path) -> None:
    assert _problem(_trail(tmp_path)) is None


def test_appends_continue_the_chain_after_a_restart(tmp_path: Path) -> None:
    path = _trail(tmp_path, 2)
    _trail(tmp_path, 2)
    store = AuditStore(path, readonly=True)
    assert [row.seq for row in store.rows()] == [1, 2, 3, 4]
    assert first_broken(store) is None
    store.close()


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE audit SET new = '200' WHERE seq = 2", "row 2 was modified"),
        ("UPDATE audit SET result = 'accepted' WHERE seq = 4", "row 4 was modified"),
        ("DELETE FROM audit WHERE seq = 2", "row 2 is missing"),
        ("DELETE FROM audit WHERE seq = 1", "row 1 is missing"),
        ("UPDATE audit SET prev_hash = hash WHERE seq = 3", "row 3 does not follow row 2"),
    ],
)
def test_a_modified_or_deleted_row_is_detected(tmp_path: Path, statement: str, problem: str) -> None:
    path = _trail(tmp_path)
    _sql(path, statement)
    found = _problem(path)
    assert found is not None
    assert found.startswith(problem)


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    path = _trail(tmp_path)
    store = AuditStore(path, readonly=True)
    row = next(r for r in store.rows() if r.seq == 2)
    store.close()
    forged = replace(row.entry, result="accepted")
    _sql(path, f"UPDATE audit SET result = 'accepted', hash = '{chain_hash(2, forged, row.prev_hash)}' "
               "WHERE seq = 2")  # fmt: skip
    assert _problem(path) == "row 3 does not follow row 2 (prev_hash differs)"


def test_cli_verify_exits_0_when_intact_and_1_naming_the_row(tmp_path: Path) -> None:
    path = _trail(tmp_path)
    ok = run_cli("audit", "verify", "--state-dir", tmp_path)
    assert (ok.returncode, ok.stdout.strip()) == (0, f"{path}: intact")
    _sql(path, "UPDATE audit SET old = '7' WHERE seq = 3")
    bad = run_cli("audit", "verify", "--state-dir", tmp_path)
    assert bad.returncode == 1
    assert "row 3 was modified" in bad.stderr


def test_cli_show_prints_every_change_or_those_since(tmp_path: Path) -> None:
    _trail(tmp_path)
    every = run_cli("audit", "show", "--state-dir", tmp_path)
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    assert len(lines) == 4
    assert lines[1].startswith("2 2026-05-28T20:27:40.000000+00:00 market mms 127.0.0.1:40000 write")
    assert lines[1].endswith(f"{OBJECT} 1 -> 2 access_denied (beyond its rights)")
    since = run_cli("audit", "show", "--since", "2026-05-28T22:28:00+02:00", "--state-dir", tmp_path)
    assert [line.split()[0] for line in since.stdout.splitlines()] == ["3", "4"]


def test_cli_without_a_trail_says_so(tmp_path: Path) -> None:
    result = run_cli("audit", "verify", "--state-dir", tmp_path)
    assert result.returncode == 78
    assert "no audit log" in result.stderr


def test_an_append_is_durable_and_fast(tmp_path: Path) -> None:
    """Each append is one fsynced transaction on the event loop: it must stay in the low milliseconds."""
    store = AuditStore(tmp_path / AUDIT_FILE)
    entry = AuditEntry("2026-01-01T00:00:00.000000+00:00", "dso", "mms", "p", "write", OBJECT, "1", "2",
                       "accepted", "")  # fmt: skip
    samples = []
    for _ in range(50):
        start = time.perf_counter()
        store.append(entry)
        samples.append(time.perf_counter() - start)
    store.close()
    samples.sort()
    print(f"audit append: median {samples[25] * 1e3:.2f} ms, max {samples[-1] * 1e3:.2f} ms")  # noqa: T201
    assert samples[25] < 0.05
