"""Spec section 8: one regression test per defect of the reference implementation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.events import AttributeChanged
from relevent.scheduler.periodic import CalendarTime, Period
from relevent.scheduler.schedule import EnaErr
from relevent.timing import STATUS_DELAY_S

from .factory import BASE, ln, reference_like_spec, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")


async def test_defect_disable_rewrite_strtm_enable_uses_the_new_start_time(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[5.0], intv=60, prio=10, starts=[BASE + 300])
    assert isinstance(h.disable(S1), Accepted)
    assert isinstance(h.write(f"{S1}.StrTm01.setTm", BASE + 120), Accepted)
    assert isinstance(h.enable(S1), Accepted)
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 120
    await h.sleep_until(BASE + 400)
    assert h.recorder.timeline(FSCC) == [(120, 5.0, "F_FSCH01"), (180, None, None)]


async def test_defect_earlier_strtm_written_while_ready_takes_effect(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[5.0], intv=60, prio=10, starts=[BASE + 300])
    assert isinstance(h.write(f"{S1}.StrTm01.setTm", BASE + 30), Accepted)
    await h.sleep_until(BASE + 100)
    assert h.recorder.timeline(FSCC) == [(30, 5.0, "F_FSCH01"), (90, None, None)]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("@Control/Nowhere_GGIO1.AnOut1", RejectReason.VALUE_INVALID),
        ("not a reference at all", RejectReason.VALUE_INVALID),
        ("@Control/F_FSCH01", RejectReason.VALUE_INVALID),  # a schedule is not a controllable entity
        ("@Control/OnOff_GGIO1.SPCSO1", RejectReason.VALUE_INVALID),  # bool entity on a float controller
        (42, RejectReason.TYPE_CONFLICT),
    ],
)
async def test_defect_unknown_ctlent_reference_is_rejected_without_crash(
    db: Path, value: object, reason: RejectReason
) -> None:
    h = start_engine(small_spec(ctl_ent=ln("ActPow_GGIO1.AnOut1")), db)
    result = h.write(f"{FSCC}.CtlEnt.setSrcRef", value)
    assert isinstance(result, Rejected)
    assert result.reason is reason
    assert h.value(f"{FSCC}.CtlEnt.setSrcRef") == ln("ActPow_GGIO1.AnOut1")
    # The engine keeps working and keeps writing the old target.
    h.program(S1, values=[7.0], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 10)
    assert h.read(ln("ActPow_GGIO1.AnOut1.mxVal.f")).value == 7.0


async def test_defect_priority_write_changes_output_value(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=600, prio=10, starts=[BASE + 10])
    h.program(S2, values=[2.0], intv=600, prio=20, starts=[BASE + 10])
    await h.sleep_until(BASE + 100)
    assert h.recorder.timeline(FSCC) == [(10, 2.0, "F_FSCH02")]
    assert isinstance(h.write(f"{S1}.SchdPrio.setVal", 30), Accepted)
    assert h.recorder.timeline(FSCC)[-1] == (100, 1.0, "F_FSCH01")
    assert h.value(f"{FSCC}.ValMV.mag.f") == 1.0
    assert h.value(f"{FSCC}.ActSchdRef.stVal") == S1


async def test_defect_hourly_reserve_restart_leaves_no_gap(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    reserve = ln("F_Res_FSCH01")
    await h.sleep_until(BASE + 3 * 3600 + 1)
    assert h.recorder.outputs(FSCC) == []  # started at start-up with 0.0 and never changed
    assert h.engine.output(FSCC) is not None
    assert h.engine.output(FSCC).value == 0.0  # type: ignore[union-attr]
    assert all(c.quality_good for c in h.recorder.changes(f"{FSCC}.ValMV.mag.f"))
    assert all(c.quality_good for c in h.recorder.changes(f"{reserve}.ValMV.mag.f"))
    restarts = [c.timestamp - BASE for c in h.recorder.changes(f"{reserve}.ActStrTm.stVal")]
    assert restarts == [3600, 7200, 10800]


async def test_defect_periodic_start_uses_utc_and_zero_seconds(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        spec = small_spec(starts=2, periodic=True)
        h = start_engine(spec, db)
        h.program(S1, values=[3.0], intv=60, prio=1, starts=[BASE + 37], reuse=True, enable=False)
        daily = CalendarTime(occ_per=Period.DAY, hr=5, mn=30)
        assert isinstance(h.write(f"{S1}.StrTm01.setCal", daily), Accepted)
        assert isinstance(h.enable(S1), Accepted)
        assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 5 * 3600 + 30 * 60
        await h.sleep_until(BASE + 86400 + 6 * 3600)
        assert h.recorder.timeline(FSCC) == [
            (5 * 3600 + 1800, 3.0, "F_FSCH01"),
            (5 * 3600 + 1860, None, None),
            (86400 + 5 * 3600 + 1800, 3.0, "F_FSCH01"),
            (86400 + 5 * 3600 + 1860, None, None),
        ]
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_defect_ctlent_naming_apc_do_writes_mxval(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    fscc = ln("ActPow_FSCC1")
    assert isinstance(h.write(f"{fscc}.CtlEnt.setSrcRef", "@Control/ActPow_GGIO1.AnOut1"), Accepted)
    h.program(ln("ActPow_FSCH01"), values=[42.0], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 10 + STATUS_DELAY_S)  # the target is status: it follows the output event
    written = h.recorder.changes(ln("ActPow_GGIO1.AnOut1.mxVal.f"))
    assert written[-1] == AttributeChanged(ln("ActPow_GGIO1.AnOut1.mxVal.f"), 42.0, True, BASE + 10)
    assert h.recorder.changes(ln("ActPow_GGIO1.AnOut1.mag.f")) == []


async def test_defect_schdreuse_is_honoured(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 10], reuse=False)
    h.program(S2, values=[2.0], intv=60, prio=1, starts=[BASE + 10], reuse=True)
    await h.sleep_until(BASE + 100)
    assert h.value(f"{S1}.StrTm01.setTm") == 0.0
    assert h.value(f"{S2}.StrTm01.setTm") == BASE + 10


async def test_defect_validation_failure_answers_operate_negatively(db: Path) -> None:
    h = start_engine(small_spec(), db)
    result = h.enable(S1)  # NumEntr 0 in the SCL
    assert result == Rejected(RejectReason.VALUE_INVALID, result.message, int(EnaErr.NUM_ENTR))  # type: ignore[union-attr]
    assert h.value(f"{S1}.SchdEnaErr.stVal") == 2
    assert h.value(f"{S1}.SchdSt.stVal") == 1


async def test_defect_boundaries_come_from_timers_not_polling(db: Path) -> None:
    h = start_engine(small_spec(), db)
    fired: list[float] = []
    on_timer = h.engine._on_timer

    def counting(nominal: float) -> None:
        fired.append(nominal - BASE)
        on_timer(nominal)

    h.engine._on_timer = counting  # type: ignore[method-assign]
    h.program(S1, values=[1.0, 2.0, 3.0], intv=10, prio=1, starts=[BASE + 5])
    await h.sleep_until(BASE + 100)
    # Timers for the nominal instants only (a long one, then a short final approach), nothing in between.
    assert sorted(set(fired)) == [5, 15, 25, 35]
    assert len(fired) <= 2 * 4
    emitted_at = [at - BASE for at, e in h.recorder.events if e in h.recorder.outputs()]
    assert emitted_at == pytest.approx([5, 15, 25, 35], abs=1e-4)
