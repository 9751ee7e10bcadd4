"""Spec section 7: every accepted change is stored; a restart resumes where the rules say."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import structlog

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.events import AttributeValue
from relevent.scheduler.spec import ModelSpec, ValueCdc
from relevent.scheduler.store import SqliteStore
from tests.db import opened

from .factory import BASE, ln, schedule_spec, small_spec
from .harness import faulty_store, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")


def values(snapshot: dict[str, AttributeValue]) -> dict[str, tuple[object, bool]]:
    """Valid values; times of status attributes and the last value behind an invalid quality are not kept."""
    return {ref: (a.value if a.quality_good else None, a.quality_good) for ref, a in snapshot.items()}


async def test_restart_persists_and_outputs_continue(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    h.program(S1, values=[1.0, 2.0, 3.0, 4.0], intv=60, prio=10, starts=[BASE + 10])
    h.program(S2, values=[9.0], intv=30, prio=20, starts=[BASE + 100, BASE + 400])
    h.write(f"{FSCC}.CtlEnt.setSrcRef", ln("ActPow_GGIO1.AnOut1"))
    await h.sleep_until(BASE + 75)
    before = values(h.engine.snapshot())
    h = h.restart()  # a fresh engine on the same file, same instant
    assert values(h.engine.snapshot()) == before
    await h.sleep_until(BASE + 500)
    assert h.recorder.timeline(FSCC) == [
        (100, 9.0, "F_FSCH02"),
        (130, 3.0, "F_FSCH01"),
        (190, 4.0, "F_FSCH01"),
        (250, 0.0, "F_Res_FSCH01"),
        (400, 9.0, "F_FSCH02"),
        (430, 0.0, "F_Res_FSCH01"),
    ]
    assert h.value(f"{S2}.StrTm01.setTm") == 0.0  # consumed before the restart... and after it
    assert h.value(f"{S2}.StrTm02.setTm") == 0.0


async def test_restart_resumes_a_run_in_progress_at_the_right_entry(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0, 3.0, 4.0], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 20)
    h.stop()
    h = start_engine(small_spec(), db, base=BASE + 145)  # down for two minutes
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    assert h.value(f"{S1}.SchdEntr.stVal") == 3
    assert h.engine.output(FSCC).value == 3.0  # type: ignore[union-attr]
    await h.sleep_until(BASE + 300)
    assert h.recorder.timeline(FSCC) == [(190, 4.0, "F_FSCH01"), (250, None, None)]


async def test_restart_treats_a_run_that_ended_while_down_as_ended(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=10, starts=[BASE + 10, BASE + 100, BASE + 900])
    h.stop()
    h = start_engine(small_spec(), db, base=BASE + 500)
    assert h.value(f"{S1}.StrTm01.setTm") == 0.0  # consumed while down (SchdReuse false)
    assert h.value(f"{S1}.StrTm02.setTm") == 0.0
    assert h.value(f"{S1}.SchdSt.stVal") == 3
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 900


async def test_restart_keeps_disabled_schedules_disabled_and_references(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=10, starts=[BASE + 100])
    h.disable(S1)
    h.write(f"{FSCC}.Schd02.setSrcRef", "")
    h = h.restart()
    assert h.value(f"{S1}.SchdSt.stVal") == 1
    assert h.value(f"{S1}.StrTm01.setTm") == BASE + 100
    assert h.value(f"{FSCC}.Schd02.setSrcRef") == ""


async def test_restore_drops_state_that_no_longer_fits_schedule_by_schedule(db: Path) -> None:
    model = small_spec()
    h = start_engine(model, db)
    for schedule in (S1, S2):
        h.program(schedule, values=[1.0], intv=60, prio=10, starts=[BASE + 100], enable=False)
    h.stop()
    changed = ModelSpec(
        model.ied_name,
        (
            schedule_spec("F_FSCH01", slots=20, starts=4),  # slot count changed
            model.schedules[1],  # unchanged
            schedule_spec("F_FSCH03", kind=ValueCdc.ING, starts=4),  # kind changed (nothing stored)
        ),
        (replace(model.controllers[0], schedule_refs=(S1, S2, "")),),
        model.targets,
    )
    with structlog.testing.capture_logs() as logs:
        h = start_engine(changed, db)
    assert h.value(f"{S1}.SchdPrio.setVal") == 0  # dropped: back to the SCL value
    assert h.value(f"{S2}.SchdPrio.setVal") == 10  # kept
    dropped = [entry["ref"] for entry in logs if entry["log_level"] == "warning"]
    assert S1 in dropped
    assert S2 not in dropped


async def test_restore_drops_a_schedule_gone_from_the_scl_and_a_controller_that_no_longer_fits(
    db: Path,
) -> None:
    model = small_spec()
    h = start_engine(model, db)
    h.stop()
    smaller = ModelSpec(
        model.ied_name,
        model.schedules[:2],
        (replace(model.controllers[0], schedule_names=("Schd01", "Schd02"), schedule_refs=(S1, S2)),),
        model.targets,
    )
    with structlog.testing.capture_logs() as logs:
        h = start_engine(smaller, db)
    warned = {entry["ref"] for entry in logs if entry["log_level"] == "warning"}
    assert warned == {ln("F_FSCH03"), FSCC}
    with opened(db) as other:
        stored = {ref for (ref,) in other.execute("SELECT ref FROM schedule")}
    assert stored == {S1, S2}


async def test_restore_ignores_an_unreadable_row(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.write(f"{S2}.SchdPrio.setVal", 5)
    h.stop()
    with opened(db) as other:
        other.execute("UPDATE schedule SET data = ? WHERE ref = ?", (json.dumps({"kind": "ASG"}), S1))
    h = start_engine(small_spec(), db)
    assert h.value(f"{S2}.SchdPrio.setVal") == 5


def _poison(db: Path, ref: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite one stored schedule row as an older gateway, or a hand, may have left it."""
    with opened(db) as other:
        (data,) = other.execute("SELECT data FROM schedule WHERE ref = ?", (ref,)).fetchone()
        row = json.loads(data)
        change(row)
        other.execute("UPDATE schedule SET data = ? WHERE ref = ?", (json.dumps(row), ref))


def _set_tm(value: float) -> Callable[[dict[str, Any]], None]:
    return lambda row: row["params"]["starts"][0].update(set_tm=value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_set_tm(1e15), "set_tm 1000000000000000.0 is outside the representable range"),
        (_set_tm(2.0**32), "set_tm 4294967296.0 is outside the representable range"),
        (lambda row: row.update(at=-1.0), "at -1.0 is outside the representable range"),
    ],
)
async def test_restore_drops_a_row_whose_time_does_not_fit_and_says_why(
    db: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    model = small_spec()
    h = start_engine(model, db)
    h.write(f"{S1}.SchdPrio.setVal", 7)
    h.write(f"{S2}.SchdPrio.setVal", 5)
    h.stop()
    _poison(db, S1, change)
    with structlog.testing.capture_logs() as logs:
        h = start_engine(model, db)  # starts, whatever the row holds
    assert list(h.dropped) == [S1]
    assert problem in h.dropped[S1]
    assert [e["ref"] for e in logs if e["log_level"] == "warning"] == [S1]
    assert h.value(f"{S1}.SchdPrio.setVal") == 0  # back to the SCL's state
    assert h.value(f"{S2}.SchdPrio.setVal") == 5  # the rest is kept
    assert isinstance(h.write(f"{S1}.StrTm01.setTm", 1e15), Rejected)
    h = h.restart()  # the dropped row was replaced by the SCL's state
    assert h.dropped == {}


def _lose(db: Path, *, truncated: bool) -> None:
    """What a failing disk or a careless hand does to the store file."""
    if truncated:
        db.write_bytes(b"")
    else:
        db.unlink()


@pytest.mark.parametrize("loss", ["truncated", "deleted"])
async def test_a_store_found_empty_after_it_held_state_says_so(db: Path, loss: str) -> None:
    h = start_engine(small_spec(), db)
    assert h.store.lost is None  # a first start is no loss
    h.write(f"{S1}.SchdPrio.setVal", 77)
    h.stop()
    _lose(db, truncated=loss == "truncated")
    with structlog.testing.capture_logs() as logs:
        h = start_engine(small_spec(), db)
    assert h.store.lost is not None
    assert "every schedule restarts from the SCL" in h.store.lost
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "schedule store is empty but held state before: the SCL model's state is used"
    ]
    assert h.value(f"{S1}.SchdPrio.setVal") == 0
    h = h.restart()
    assert h.store.lost is None  # stored again at that start


async def test_store_with_another_schema_version_starts_empty(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.write(f"{S1}.SchdPrio.setVal", 5)
    h.stop()
    with opened(db) as other:
        other.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    h = start_engine(small_spec(), db)
    assert h.value(f"{S1}.SchdPrio.setVal") == 0


def test_store_is_wal_with_full_sync(db: Path) -> None:
    store = SqliteStore(db)
    assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)
    store.close()


async def test_store_failure_rejects_the_command_and_undoes_it(db: Path) -> None:
    h = start_engine(small_spec(), db)
    store = faulty_store(h)
    h.program(S1, values=[1.0], intv=60, prio=10, starts=[BASE + 100], enable=False)
    store.fail = True
    h.recorder.clear()
    for result in (
        h.write(f"{S1}.SchdPrio.setVal", 99),
        h.enable(S1),
        h.write(f"{FSCC}.Schd01.setSrcRef", ""),
    ):
        assert isinstance(result, Rejected)
        assert result.reason is RejectReason.TEMPORARILY_UNAVAILABLE
    assert h.recorder.events == []
    assert h.value(f"{S1}.SchdPrio.setVal") == 10
    assert h.value(f"{S1}.SchdSt.stVal") == 1
    assert h.value(f"{FSCC}.Schd01.setSrcRef") == S1
    store.fail = False
    assert isinstance(h.enable(S1), Accepted)


async def test_a_crash_before_a_deferred_commit_still_finds_the_ended_runs_start_consumed(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 100], reuse=False)
    await h.sleep_until(BASE + 160)  # the run has ended; the store commit of that instant is still deferred
    with opened(db) as raw:
        (data,) = raw.execute("SELECT data FROM schedule WHERE ref = ?", (S1,)).fetchone()
    assert json.loads(data)["params"]["starts"][0]["set_tm"] == BASE + 100  # not consumed in the store yet
    after_crash = start_engine(small_spec(), db, clock=h.clock)  # a new process on the same store
    assert after_crash.value(f"{S1}.StrTm01.setTm") == 0.0  # consumed by the restore, as the commit would
    assert after_crash.value(f"{S1}.SchdSt.stVal") == 1
