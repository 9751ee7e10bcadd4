"""The audit trail: a keyed chain in SQLite, anchored outside it, that `relevent-gw audit verify` checks."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from structlog.testing import capture_logs

from relevent.errors import ConfigError
from relevent.obs.audit import AuditLog
from relevent.obs.audit_anchor import ANCHOR_AFTER_S, ANCHOR_FILE, Anchor, verify
from relevent.obs.audit_api import add_audit_routes
from relevent.obs.audit_key import KEY_FILE, audit_key
from relevent.obs.audit_show import since_time
from relevent.obs.audit_store import (
    AUDIT_FILE,
    GENESIS,
    AuditEntry,
    AuditError,
    AuditStore,
    Link,
    chain_hash,
    iso_time,
)
from relevent.obs.http import BadRequests
from relevent.scheduler.commands import ACCEPTED, Actor, Rejected, RejectReason
from relevent.scheduler.events import CommandHandled
from relevent.scheduler.verdicts import (
    NOW,
    UNTIL_CHANGED,
    Cancelled,
    Intent,
    IntentFunction,
    IntentHandled,
    Placed,
    RefusalReason,
    Refused,
)
from tests.daemon import GATEWAY, GatewayArgs, run_cli, running
from tests.db import opened

OBJECT = "DER_Scheduler_Control/MaxPow_FSCH01.SchdPrio.setVal"
T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z
DENIED = Rejected(RejectReason.ACCESS_DENIED, "beyond its rights")


def _open(state_dir: Path, registry: CollectorRegistry | None = None, **options: float) -> AuditLog:
    """The trail as the gateway opens it: the state directory's key, its anchor, started."""
    key = audit_key(None, state_dir, create=True)
    log = AuditLog(AuditStore(state_dir / AUDIT_FILE, key), Anchor(state_dir / ANCHOR_FILE, key), registry,
                   **options)  # fmt: skip
    log.start(T0)
    return log


def _command(i: int, *, refused: bool, peer: str = "127.0.0.1:4000", at: float | None = None
             ) -> CommandHandled:
    actor = Actor("mms", peer, "market" if refused else "dso")
    return CommandHandled("write", OBJECT, actor, i, i + 1, DENIED if refused else ACCEPTED,
                          T0 + 60 * i if at is None else at)  # fmt: skip


def _trail(state_dir: Path, count: int = 4) -> Path:
    """A trail with `count` changes a minute apart: accepted writes, every other one refused."""
    log = _open(state_dir)
    for i in range(count):
        log.on_event(_command(i, refused=i % 2 == 1))
    log.close()
    return state_dir / AUDIT_FILE


def _key(state_dir: Path) -> bytes:
    return audit_key(None, state_dir, create=False)


def _problem(state_dir: Path, journal_head: Link | None = None) -> str | None:
    key = _key(state_dir)
    store = AuditStore(state_dir / AUDIT_FILE, key, readonly=True)
    try:
        return verify(store, key, Anchor(state_dir / ANCHOR_FILE, key), journal_head)
    finally:
        store.close()


def _rows(state_dir: Path) -> list[tuple[int, str, str]]:
    with opened(state_dir / AUDIT_FILE) as db:
        return [(int(s), str(r), str(w)) for s, r, w in db.execute("SELECT seq, result, reason FROM audit")]


def _sql(path: Path, statement: str, *params: object) -> None:
    with opened(path) as db:
        db.execute(statement, params)


def _rechain(path: Path, key: bytes | None, edit: dict[str, str], at_seq: int) -> None:
    """A forger's rewrite: change row `at_seq`, then recompute its hash and every later row's."""
    with opened(path) as db:
        rows = db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        prev = GENESIS
        for seq, *fields, _, _ in rows:
            entry = AuditEntry(*fields)
            if seq == at_seq:
                entry = replace(entry, **edit)
            digest = chain_hash(key, seq, entry, prev)
            db.execute("UPDATE audit SET result = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                       (entry.result, prev, digest, seq))  # fmt: skip
            prev = digest


def test_an_untouched_trail_verifies(tmp_path: Path) -> None:
    _trail(tmp_path)
    assert _problem(tmp_path) is None


def test_appends_continue_the_chain_after_a_restart(tmp_path: Path) -> None:
    path = _trail(tmp_path, 2)
    _trail(tmp_path, 2)
    store = AuditStore(path, None, readonly=True)
    assert [row.seq for row in store.rows()] == [1, 2, 3, 4]
    store.close()
    assert _problem(tmp_path) is None


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE audit SET new = '200' WHERE seq = 2", "row 2 was modified"),
        ("UPDATE audit SET result = 'accepted' WHERE seq = 4", "row 4 was modified"),
        ("DELETE FROM audit WHERE seq = 2", "row 2 is missing"),
        ("DELETE FROM audit WHERE seq = 1", "row 1 is missing"),
        ("UPDATE audit SET prev_hash = hash WHERE seq = 3", "row 3 does not follow row 2"),
        ("DELETE FROM audit WHERE seq >= 3", "rows are missing: the anchor names row 4, the trail"),
        ("DELETE FROM audit", "rows are missing: the anchor names row 4, the trail ends at row 0"),
    ],
)
def test_a_modified_or_deleted_row_is_detected(tmp_path: Path, statement: str, problem: str) -> None:
    _sql(_trail(tmp_path), statement)
    found = _problem(tmp_path)
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.parametrize("forger_key", [None, b"a key that is not the gateway's"])
def test_a_rewritten_and_rechained_trail_is_detected(tmp_path: Path, forger_key: bytes | None) -> None:
    """Issue 16 item 7: a row changed and the chain recomputed (plain SHA-256) verified as intact."""
    path = _trail(tmp_path)
    _rechain(path, forger_key, {"result": "accepted"}, at_seq=2)
    assert _problem(tmp_path) == "row 1 was modified (its MAC does not match its content)"


def test_a_forged_or_replayed_anchor_is_detected(tmp_path: Path) -> None:
    _trail(tmp_path, 2)
    old_anchor = (tmp_path / ANCHOR_FILE).read_text()
    _trail(tmp_path, 2)  # rows 3 and 4; the journal logged their heads
    _sql(tmp_path / AUDIT_FILE, "DELETE FROM audit WHERE seq > 2")
    forged = {"seq": 2, "mac": _rows_mac(tmp_path, 2), "tag": "0" * 64}  # the tag needs the key
    (tmp_path / ANCHOR_FILE).write_text(json.dumps(forged))
    forged_anchor = f"audit anchor {tmp_path / ANCHOR_FILE} was modified (its MAC does not match)"
    assert _problem(tmp_path) == forged_anchor
    (tmp_path / ANCHOR_FILE).write_text(old_anchor)  # an older anchor of the key, replayed
    assert _problem(tmp_path) is None  # only the journal knows better:
    journal_head = Link(4, "f" * 64)
    assert _problem(tmp_path, journal_head) == (
        "rows are missing: the journal's head names row 4, the trail ends at row 2"
    )


def _rows_mac(state_dir: Path, seq: int) -> str:
    with opened(state_dir / AUDIT_FILE) as db:
        return str(db.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()[0])


def test_a_restart_after_a_cut_chains_the_cut_and_verify_keeps_reporting_it(tmp_path: Path) -> None:
    _sql(_trail(tmp_path), "DELETE FROM audit WHERE seq >= 3")
    with capture_logs() as logs:
        _trail(tmp_path, 1)
    assert any(line["event"] == "audit trail does not reach its anchor" for line in logs)
    assert _rows(tmp_path)[2][:2] == (3, "truncated")
    assert _problem(tmp_path) == (
        "row 3 records that the trail was cut short: "
        "rows are missing: the anchor names row 4, the trail ends at row 2"
    )


def test_the_head_is_logged_at_start_and_every_hundred_entries(tmp_path: Path) -> None:
    with capture_logs() as logs:
        log = _open(tmp_path)
        for i in range(200):
            log.on_event(_command(i, refused=False))
        log.close()
    heads = [(line["seq"], line["mac"]) for line in logs if line["event"] == "audit head"]
    assert [seq for seq, _ in heads] == [0, 100, 200]
    assert heads[2][1] == _rows_mac(tmp_path, 200)


def test_the_generated_key_is_private_and_a_configured_key_is_used_instead(tmp_path: Path) -> None:
    _trail(tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert len((tmp_path / KEY_FILE).read_text().strip()) == 64
    configured = SecretStr("k" * 32)
    assert audit_key(configured, tmp_path, create=True) == b"k" * 32
    with pytest.raises(ConfigError, match="fewer than 16"):
        audit_key(SecretStr("short"), tmp_path, create=True)
    with pytest.raises(AuditError, match="no audit key"):
        audit_key(None, tmp_path / "elsewhere", create=False)


def test_a_trail_from_before_the_key_is_keyed_at_the_first_start(tmp_path: Path) -> None:
    path = tmp_path / AUDIT_FILE
    _trail(tmp_path)
    _rechain(path, None, {}, at_seq=0)  # what the unkeyed version wrote
    _sql(path, "DROP TABLE meta")
    shown = run_cli("audit", "show", "--state-dir", tmp_path)
    assert (shown.returncode, len(shown.stdout.splitlines())) == (0, 4)
    assert _problem(tmp_path) == (
        "the trail is not keyed yet (written before the audit key: start the gateway once)"
    )
    _trail(tmp_path, 1)
    assert _problem(tmp_path) is None


# -- a write flood, retention, a full disk ----------------------------------------------------------------


def test_repeated_refusals_of_one_peer_are_folded_into_one_row_per_window(tmp_path: Path) -> None:
    """Issue 16 item 7: a write flood wrote ~1,400 refused rows per second."""
    registry = CollectorRegistry()
    log = _open(tmp_path, registry, fold_window_s=10.0)
    for n in range(1000):  # one peer: 1000 refusals in 1 s
        log.on_event(_command(n, refused=True, at=T0 + n / 1000))
    log.on_event(_command(0, refused=True, peer="127.0.0.1:4001", at=T0 + 0.5))  # another peer
    for n in range(20):  # accepted writes are never folded
        log.on_event(_command(n, refused=False, at=T0 + 0.6))
    log.tick(T0 + 5)
    assert len(_rows(tmp_path)) == 10 + 1 + 20  # the first 10 of the window in full
    log.tick(T0 + 10)
    rows = _rows(tmp_path)
    assert len(rows) == 32
    assert rows[31][1] == "access_denied"
    assert rows[31][2].startswith("990 refusals like this folded since 2026-05-28T20:26:40.000000+00:00; ")
    assert registry.get_sample_value("relevent_audit_folded_total") == 990
    log.on_event(_command(0, refused=True, at=T0 + 11))  # a new window: written again
    log.close()
    assert len(_rows(tmp_path)) == 33
    assert _problem(tmp_path) is None


def test_a_flood_of_refusals_stays_a_few_rows(tmp_path: Path) -> None:
    log = _open(tmp_path)
    started = time.perf_counter()
    for n in range(20_000):  # 1,400 per second for ~14 s
        at = T0 + n / 1400
        log.on_event(_command(n, refused=True, at=at))
        if n % 1400 == 0:
            log.tick(at)
    elapsed = time.perf_counter() - started
    log.close()
    print(f"20,000 refusals: {len(_rows(tmp_path))} rows, {elapsed * 1e6 / 20_000:.1f} us each")  # noqa: T201
    assert len(_rows(tmp_path)) == 2 * (10 + 1)  # two 10 s windows


def test_retention_keeps_a_verified_checkpoint(tmp_path: Path) -> None:
    _trail(tmp_path, 6)  # T0 .. T0 + 5 min
    log = _open(tmp_path, retention_days=1.0)
    log.close()
    assert [seq for seq, _, _ in _rows(tmp_path)] == [1, 2, 3, 4, 5, 6]
    store = AuditStore(tmp_path / AUDIT_FILE, _key(tmp_path))
    assert store.prune(iso_time(T0 + 150)) == 3  # what the retention does once rows are old enough
    store.close()
    assert [seq for seq, _, _ in _rows(tmp_path)] == [4, 5, 6]
    assert _problem(tmp_path) is None
    _sql(tmp_path / AUDIT_FILE, "DELETE FROM audit WHERE seq = 4")
    assert _problem(tmp_path) == "row 4 is missing (the next row is 5)"
    _sql(tmp_path / AUDIT_FILE, "UPDATE meta SET value = '4' WHERE name = 'base_seq'")
    assert _problem(tmp_path) == "the retention checkpoint (row 4) was modified"


def test_the_gateway_applies_the_retention_at_start(tmp_path: Path) -> None:
    _trail(tmp_path, 3)
    key = _key(tmp_path)
    log = AuditLog(AuditStore(tmp_path / AUDIT_FILE, key), Anchor(tmp_path / ANCHOR_FILE, key),
                   retention_days=1.0)  # fmt: skip
    log.start(T0 + 86400 + 125)  # rows 1 and 2 are over a day old; row 3 is not
    log.close()
    assert [seq for seq, _, _ in _rows(tmp_path)] == [3]
    assert _problem(tmp_path) is None


@contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Writes past `limit` bytes fail (EFBIG, as Python ignores SIGXFSZ): the disk is full for SQLite."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_entries_lost_while_the_disk_is_full_leave_a_recorded_gap(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    log = _open(tmp_path, registry)
    log.on_event(_command(0, refused=False))
    assert log.writable
    wal = Path(f"{tmp_path / AUDIT_FILE}-wal")
    with capture_logs() as logs, _file_size_limit(wal.stat().st_size):
        for i in (1, 2, 3):
            log.on_event(_command(i, refused=False))
        assert not log.writable  # /readyz: audit_writable false
        log.tick(T0 + 200)  # still full: the gap cannot be written yet
        assert not log.writable
    assert [line["event"] for line in logs].count("audit store failed; entry only in this log") == 3
    assert registry.get_sample_value("relevent_audit_lost_total") == 3
    log.tick(T0 + 240)  # room again
    assert log.writable
    log.on_event(_command(4, refused=False))
    log.close()
    rows = _rows(tmp_path)
    assert [result for _, result, _ in rows] == ["accepted", "gap", "accepted"]
    assert rows[1][2].startswith(
        "3 entries lost from 2026-05-28T20:27:40.000000+00:00 to 2026-05-28T20:29:40.000000+00:00 (see the "
    )
    assert _problem(tmp_path) is None


# -- the command line ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda d: _rechain(d / AUDIT_FILE, None, {"result": "accepted"}, at_seq=2), "row 1 was modified"),
        (lambda d: _sql(d / AUDIT_FILE, "DELETE FROM audit WHERE seq = 4"), "rows are missing: the anchor"),
        (lambda d: _sql(d / AUDIT_FILE, "DELETE FROM audit"), "rows are missing: the anchor names row 4"),
        (lambda d: (d / AUDIT_FILE).unlink(), "the trail is gone (its anchor"),
    ],
    ids=["rewritten", "truncated", "emptied", "deleted"],
)
def test_cli_verify_detects_rewriting_truncation_and_deletion(
    tmp_path: Path, tamper: object, problem: str
) -> None:
    path = _trail(tmp_path)
    ok = run_cli("audit", "verify", "--state-dir", tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"{path}: intact, head 4:{_rows_mac(tmp_path, 4)}"
    tamper(tmp_path)  # type: ignore[operator]
    bad = run_cli("audit", "verify", "--state-dir", tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"{path}: {problem}")


def test_cli_verify_checks_a_head_from_the_journal(tmp_path: Path) -> None:
    _trail(tmp_path, 3)
    old_anchor = (tmp_path / ANCHOR_FILE).read_text()
    _trail(tmp_path, 1)
    head = f"4:{_rows_mac(tmp_path, 4)}"
    assert run_cli("audit", "verify", "--head", head, "--state-dir", tmp_path).returncode == 0
    _sql(tmp_path / AUDIT_FILE, "DELETE FROM audit WHERE seq = 4")
    (tmp_path / ANCHOR_FILE).write_text(old_anchor)  # replayed: only the journal knows better
    assert run_cli("audit", "verify", "--state-dir", tmp_path).returncode == 0
    bad = run_cli("audit", "verify", "--head", head, "--state-dir", tmp_path)
    assert bad.returncode == 1
    assert "the journal's head names row 4, the trail ends at row 3" in bad.stderr


def test_a_deleted_anchor_is_detected(tmp_path: Path) -> None:
    _sql(_trail(tmp_path), "DELETE FROM audit WHERE seq = 4")
    (tmp_path / ANCHOR_FILE).unlink()
    assert _problem(tmp_path) == f"the audit anchor {tmp_path / ANCHOR_FILE} is missing"


def test_cli_verify_uses_the_configured_key(tmp_path: Path) -> None:
    (credentials := tmp_path / "credentials").mkdir()
    (credentials / "audit__key").write_text("a key from a systemd credential\n")
    key = audit_key(SecretStr("a key from a systemd credential"), tmp_path, create=False)
    log = AuditLog(AuditStore(tmp_path / AUDIT_FILE, key), Anchor(tmp_path / ANCHOR_FILE, key))
    log.start(T0)
    log.on_event(_command(0, refused=False))
    log.close()
    assert not (tmp_path / KEY_FILE).exists()
    config = tmp_path / "gw.toml"
    config.write_text(f'[audit]\nkey_file = "{credentials / "audit__key"}"\n')
    ok = run_cli("audit", "verify", "--config", config, "--state-dir", tmp_path)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / KEY_FILE).write_text("0" * 64)  # the wrong key, were the configured one ignored
    wrong = run_cli("audit", "verify", "--state-dir", tmp_path)
    assert wrong.returncode == 1
    assert "was modified" in wrong.stderr


def test_cli_show_prints_every_change_or_those_since(tmp_path: Path) -> None:
    _trail(tmp_path)
    every = run_cli("audit", "show", "--state-dir", tmp_path)
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    assert len(lines) == 4
    assert lines[1].startswith("2 2026-05-28T20:27:40.000000+00:00 market mms 127.0.0.1:4000 write")
    assert lines[1].endswith(f"{OBJECT} 1 -> 2 access_denied (beyond its rights)")
    since = run_cli("audit", "show", "--since", "2026-05-28T22:28:00+02:00", "--state-dir", tmp_path)
    assert [line.split()[0] for line in since.stdout.splitlines()] == ["3", "4"]


def _changes_at(state_dir: Path, times: list[float], obj: str = OBJECT) -> None:
    """One accepted write of `obj` at each time, from the time itself to one hour later."""
    log = _open(state_dir)
    for at in times:
        log.on_event(CommandHandled("write", obj, Actor("mms", "127.0.0.1:40000", "dso"), at, at + 3600,
                                    ACCEPTED, at))  # fmt: skip
    log.close()


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
    assert "no audit" in result.stderr


def test_an_append_is_durable_and_fast(tmp_path: Path) -> None:
    """Each append is one fsynced transaction and an anchor update on the event loop: low milliseconds."""
    log = _open(tmp_path)
    samples = []
    for i in range(50):
        start = time.perf_counter()
        log.on_event(_command(i, refused=False))
        samples.append(time.perf_counter() - start)
    log.close()
    samples.sort()
    print(f"audit append: median {samples[25] * 1e3:.2f} ms, max {samples[-1] * 1e3:.2f} ms")  # noqa: T201
    assert samples[25] < 0.05



@pytest.mark.slow
def test_the_gateway_anchors_its_head_and_records_a_cut_it_finds(tmp_path: Path) -> None:
    """The real daemon: a key of its own, the head logged at start, a cut trail recorded as such."""
    _trail(tmp_path)
    _sql(tmp_path / AUDIT_FILE, "DELETE FROM audit WHERE seq = 4")
    with running(GatewayArgs(tmp_path).argv()) as gw:
        cut = gw.wait_for("audit trail does not reach its anchor")
        head = gw.wait_for("audit head")
        gw.wait_for("gateway running")
        assert gw.stop() == 0
    assert cut["problem"] == "rows are missing: the anchor names row 4, the trail ends at row 3"
    assert head["seq"] == 4  # the `truncated` row took seq 4
    assert json.loads((tmp_path / ANCHOR_FILE).read_text())["mac"] == head["mac"]
    result = run_cli("audit", "verify", "--state-dir", tmp_path, "--head", f"{head['seq']}:{head['mac']}")
    assert result.returncode == 1
    assert "row 4 records that the trail was cut short" in result.stderr


def test_intents_are_audited_with_actor_protocol_what_they_asked_and_verdict(tmp_path: Path) -> None:
    log = _open(tmp_path)
    dso = Actor("iec104", "192.0.2.7:2404", "dso")
    slot = "DER_Scheduler_Control/MaxPow_FSCH03"
    target = "@Control/MaxPow_FSCC1"
    setpoint = Intent(dso, "ioa-7", target, IntentFunction.MAX_POW, NOW, UNTIL_CHANGED, (11.0,))
    window = Intent(dso, "ioa-8", target, IntentFunction.MAX_POW, T0 + 900, 300.0, (5.0, 6.0), rel_priority=2)
    # the placement's engine command: the intent's row records it, it gets none of its own
    log.on_event(CommandHandled("program", f"{slot}.SchdSt.stVal", dso, 1, 2, ACCEPTED, T0))
    log.on_intent(IntentHandled("intent", dso, "ioa-7", target, Placed(slot, 65, (slot,)), T0, setpoint))
    full = Refused(RefusalReason.NO_FREE_SLOT, "full")
    log.on_intent(IntentHandled("intent", dso, "ioa-8", target, full, T0, window))
    log.on_intent(IntentHandled("cancel", dso, "ioa-7", "", Cancelled((slot,)), T0))
    log.close()
    store = AuditStore(tmp_path / AUDIT_FILE, _key(tmp_path), readonly=True)
    rows = [(r.entry.actor, r.entry.protocol, r.entry.command, r.entry.object, json.loads(r.entry.new),
             r.entry.result, r.entry.reason) for r in store.rows()]  # fmt: skip
    store.close()
    asked_setpoint = {"function": "MaxPow", "start": "now+0s", "interval_s": None, "values": [11.0],
                      "rel_priority": 0, "test": False}  # fmt: skip
    asked_window = {"function": "MaxPow", "start": iso_time(T0 + 900), "interval_s": 300.0,
                    "values": [5.0, 6.0], "rel_priority": 2, "test": False}  # fmt: skip
    assert [row[2] for row in rows] == ["intent", "intent", "cancel"]  # no "program" row
    assert rows == [
        ("dso", "iec104", "intent", f"{target} key ioa-7",
         {"asked": asked_setpoint, "slots": [slot], "priority": 65}, "accepted", ""),
        ("dso", "iec104", "intent", f"{target} key ioa-8", {"asked": asked_window}, "no_free_slot", "full"),
        ("dso", "iec104", "cancel", "key ioa-7", {"slots": [slot]}, "accepted", ""),
    ]  # fmt: skip


@pytest.mark.looptime(start=0)
async def test_a_burst_on_the_loop_is_anchored_once_shortly_after_it(tmp_path: Path) -> None:
    """A burst of entries (a placement's intents, say) costs one synced anchor write, off the path
    of the commands' effects, never an anchor ahead of the trail; written at `close` when still due."""
    log = _open(tmp_path)
    anchored = Anchor(tmp_path / ANCHOR_FILE, _key(tmp_path))
    before = anchored.read()
    assert before is not None  # the start's anchor is written at once: a crash right after finds it
    for i in range(3):
        log.on_event(_command(i, refused=False))
        await asyncio.sleep(ANCHOR_AFTER_S / 4)
    assert anchored.read() == before  # gathered, not written per entry
    await asyncio.sleep(ANCHOR_AFTER_S)
    head = anchored.read()
    assert head is not None
    assert head.seq == before.seq + 3
    log.on_event(_command(3, refused=False))
    log.close()  # writes the queued anchor itself; the queued call then finds nothing due
    await asyncio.sleep(ANCHOR_AFTER_S)
    closed = anchored.read()
    assert closed is not None
    assert closed.seq == head.seq + 1


async def test_the_audit_api_serves_the_newest_entries_filtered_and_the_trails_state(tmp_path: Path) -> None:
    log = _open(tmp_path)
    for i in range(4):
        log.on_event(_command(i, refused=i % 2 == 1))
    registry = CollectorRegistry()
    app = web.Application()
    add_audit_routes(app, log, BadRequests(registry))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        everything = await (await client.get("/api/audit?limit=3")).json()
        denied = await (await client.get("/api/audit?result=access_denied&actor=market")).json()
        refused = await client.get("/api/audit?limit=0")
        assert refused.status == 400
    assert everything["trail"] == {"head": 4, "intact_at_start": True, "writable": True}
    assert [e["seq"] for e in everything["entries"]] == [4, 3, 2]  # newest first
    assert [(e["seq"], e["old"], e["new"]) for e in denied["entries"]] == [(4, "3", "4"), (2, "1", "2")]
    assert registry.get_sample_value("relevent_http_bad_requests_total", {"route": "audit"}) == 1.0
    log.close()
