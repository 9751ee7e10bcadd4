"""The adapter-facing surface: read, snapshot, reference forms, subscriptions, life cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, Event
from relevent.scheduler.periodic import CalendarTime
from relevent.scheduler.store import SqliteStore

from .factory import BASE, RESERVE_SET_TM, ln, reference_like_spec, small_spec
from .harness import OPENED, SCADA, FakeClock, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")


async def test_snapshot_lists_every_served_attribute(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    snapshot = h.engine.snapshot()
    fsch = ln("ActPow_FSCH01")
    assert snapshot[f"{fsch}.ValASG100.setMag.f"].value == 0.0
    assert snapshot[f"{fsch}.StrTm16.setTm"].value == 0.0
    assert snapshot[f"{fsch}.SchdSt.stVal"].value == 1
    assert snapshot[f"{fsch}.SchdEnaErr.stVal"].value == 1
    reserve = ln("ActPow_Res_FSCH01")
    assert snapshot[f"{reserve}.StrTm01.setTm"].value == RESERVE_SET_TM
    assert snapshot[f"{reserve}.StrTm01.setCal"].value == CalendarTime()
    assert snapshot[f"{reserve}.SchdSt.stVal"].value == 4
    fscc = ln("ActPow_FSCC1")
    assert snapshot[f"{fscc}.Schd11.setSrcRef"].value == reserve
    assert snapshot[f"{fscc}.ActSchdRef.stVal"].value == reserve
    assert snapshot[ln("ActPow_GGIO1.AnOut1.mxVal.f")].quality_good
    assert snapshot[ln("OnOff_FSCC1.ValSPS.stVal")].value is False
    assert len([ref for ref in snapshot if ref.endswith(".SchdSt.stVal")]) == 33


async def test_read_accepts_both_reference_forms_and_setcal_members(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    short = h.engine.read("@Control/ActPow_Res_FSCH01.SchdPrio.setVal")
    assert short == h.engine.read(ln("ActPow_Res_FSCH01.SchdPrio.setVal"))
    assert h.value(ln("ActPow_Res_FSCH01.StrTm01.setCal.occPer")) == 0
    for missing in (ln("ActPow_FSCH01.Nope.stVal"), ln("ActPow_FSCH01.StrTm01.setCal.occPer"), "x"):
        result = h.engine.read(missing)
        assert isinstance(result, Rejected)
        assert result.reason is RejectReason.OBJECT_UNDEFINED


async def test_published_references_are_in_the_full_form(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert isinstance(h.write("@Control/F_FSCC1.CtlEnt.setSrcRef", "@Control/ActPow_GGIO1.AnOut1"), Accepted)
    assert h.value(f"{FSCC}.CtlEnt.setSrcRef") == ln("ActPow_GGIO1.AnOut1")
    assert all(
        e.ref.startswith("DER_Scheduler_Control/")
        for _, e in h.recorder.events
        if isinstance(e, AttributeChanged)
    )


async def test_attribute_events_only_on_change(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.write(f"{S1}.SchdPrio.setVal", 5)
    h.recorder.clear()
    assert isinstance(h.write(f"{S1}.SchdPrio.setVal", 5), Accepted)
    assert h.recorder.events == []


async def test_failing_subscriber_does_not_stop_the_scheduler(db: Path) -> None:
    h = start_engine(small_spec(), db)

    def broken(event: Event) -> None:
        raise RuntimeError(event)

    h.engine.subscribe(broken)
    unsubscribe_me = h.engine.subscribe(h.recorder)
    unsubscribe_me()
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 10])
    await h.sleep_until(BASE + 20)
    assert h.recorder.timeline(FSCC) == [(10, 1.0, "F_FSCH01")]


async def test_commands_before_start_and_after_stop_are_temporarily_unavailable(db: Path) -> None:
    import asyncio  # noqa: PLC0415

    store = SqliteStore(db)
    OPENED.append(store)
    engine = Engine(small_spec(), clock=FakeClock(asyncio.get_running_loop(), BASE), store=store)
    for result in (
        engine.write(f"{S1}.SchdPrio.setVal", 1, SCADA),
        engine.operate(f"{S1}.EnaReq", True, False, SCADA),
        engine.read(f"{S1}.SchdSt.stVal"),
    ):
        assert isinstance(result, Rejected)
        assert result.reason is RejectReason.TEMPORARILY_UNAVAILABLE
    assert engine.snapshot() == {}
    assert engine.output(FSCC) is None
    engine.start()
    assert isinstance(engine.write(f"{S1}.SchdPrio.setVal", 1, SCADA), Accepted)
    engine.stop()
    result = engine.write(f"{S1}.SchdPrio.setVal", 2, SCADA)
    assert isinstance(result, Rejected)
    assert result.reason is RejectReason.TEMPORARILY_UNAVAILABLE


async def test_every_command_is_reported_with_actor_old_new_and_verdict(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.write(f"{S1}.SchdPrio.setVal", 5)
    h.write(f"{S1}.SchdPrio.setVal", "high")
    h.operate(f"{S1}.EnaReq")
    accepted, rejected, operate = h.recorder.commands
    assert (accepted.command, accepted.ref) == ("write", f"{S1}.SchdPrio.setVal")
    assert (accepted.old, accepted.new) == (0, 5)
    assert accepted.actor == SCADA
    assert isinstance(accepted.result, Accepted)
    assert (rejected.old, rejected.new) == (5, "high")  # the value refused, for the audit
    assert isinstance(rejected.result, Rejected)
    assert rejected.result.reason is RejectReason.TYPE_CONFLICT
    assert (operate.command, operate.ref) == ("operate", f"{S1}.EnaReq")
    assert operate.old == 1  # SchdSt before: not ready
