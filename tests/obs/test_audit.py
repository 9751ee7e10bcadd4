"""The audit trail: a hash chain in SQLite that `relevent-gw audit verify` checks and `audit show` prints."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relevent.obs.audit import AuditLog
from relevent.obs.audit_show import since_time
from relevent.obs.audit_store import AUDIT_FILE, AuditEntry, AuditStore, chain_hash, first_broken
from relevent.scheduler.commands import ACCEPTED, Actor, Rejected, RejectReason
from relevent.scheduler.events import CommandHandled
from tests.daemon import GATEWAY, run_cli

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


def _changes_at(state_dir: Path, times: list[float], obj: str = OBJECT) -> None:
    """One accepted write of `obj` at each time, from the time itself to one hour later."""
    store = AuditStore(state_dir / AUDIT_FILE)
    log = AuditLog(store)
    for at in times:
        log.on_event(CommandHandled("write", obj, Actor("mms", "127.0.0.1:40000", "dso"), at, at + 3600,
                                    ACCEPTED, at))  # fmt: skip
    store.close()


def test_cli_show_prints_start_times_as_utc_times(tmp_path: Path) -> None:
    _changes_at(tmp_path, [T0], "DER_Scheduler_Control/MaxPow_FSCH01.StrTm01.setTm")
    shown = run_cli("audit", "show", "--state-dir", tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "StrTm01.setTm 2026-05-28T20:26:40+00:00 -> 2026-05-28T21:26:40+00:00 accepted" in shown.stdout


@pytest.mark.parametrize(
    ("since", "expected"),
    [("-2h", ["3", "4"]), ("--since=-30m", ["4"]), ("90m ago", ["3", "4"]), ("yesterday", ["2", "3", "4"])],
)
def test_cli_show_since_takes_readable_times(tmp_path: Path, since: str, expected: list[str]) -> None:
    now = time.time()
    _changes_at(tmp_path, [now - 3 * 86400, now - 3 * 3600, now - 3600, now - 60])
    option = [since] if since.startswith("--since=") else ["--since", since]
    shown = run_cli("audit", "show", *option, "--state-dir", tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert [line.split()[0] for line in shown.stdout.splitlines()] == expected


def test_cli_show_since_names_the_accepted_forms(tmp_path: Path) -> None:
    _changes_at(tmp_path, [T0])
    shown = run_cli("audit", "show", "--since", "last week", "--state-dir", tmp_path)
    assert shown.returncode == 2
    assert "argument --since: 'last week' is not a time: use an ISO 8601 date or time" in shown.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "2026-05-28T00:00:00"),
        ("yesterday", "2026-05-27T00:00:00"),
        ("-2h", "2026-05-28T18:26:40"),
        ("-30m", "2026-05-28T19:56:40"),
        ("-7d", "2026-05-21T20:26:40"),
        ("2026-05-01", "2026-05-01T00:00:00"),
        ("2026-05-01T10:00:00Z", "2026-05-01T10:00:00"),
        ("2026-05-01 12:00+02:00", "2026-05-01T10:00:00"),
    ],
)
def test_since_forms(text: str, expected: str) -> None:
    now = datetime.fromtimestamp(T0, UTC)
    assert since_time(text, now) == f"{expected}.000000+00:00"


def test_cli_show_stops_quietly_when_its_reader_goes(tmp_path: Path) -> None:
    """`audit show | head`: more lines than a pipe holds, the reader closes after the first one."""
    _changes_at(tmp_path, [T0 + i for i in range(1000)])
    show = subprocess.Popen([*GATEWAY, "audit", "show", "--state-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert show.stdout is not None
    assert show.stderr is not None
    assert show.stdout.readline().startswith(b"1 ")
    show.stdout.close()
    stderr = show.stderr.read()
    assert show.wait(timeout=60) == 128 + signal.SIGPIPE
    assert stderr == b""


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
