"""Spec section 2: parameter writes, their timing, their validation and the per-schedule policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.periodic import CalendarTime, Period
from relevent.scheduler.policy import Lockable, SchedulePolicy
from relevent.scheduler.spec import ValueCdc
from tests.db import opened

from .factory import BASE, ln, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")
RES = ln("F_Res_FSCH01")


def rejected(result: object, reason: RejectReason) -> bool:
    return isinstance(result, Rejected) and result.reason is reason


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("ValASG001.setMag.f", 2.5),
        ("ValASG010.setMag.f", -7),
        ("NumEntr.setVal", 3),
        ("SchdIntv.setVal", 900),
        ("SchdPrio.setVal", -5),
        ("StrTm01.setTm", BASE + 3600),
        ("SchdReuse.setVal", True),
    ],
)
async def test_rule_2_write_reads_back(db: Path, attribute: str, value: object) -> None:
    h = start_engine(small_spec(), db)
    assert isinstance(h.write(f"@Control/F_FSCH01.{attribute}", value), Accepted)
    assert h.value(f"{S1}.{attribute}") == value


async def test_rule_2_writes_are_accepted_in_every_state(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 100], enable=False)
    for state, until in ((1, BASE), (3, None), (4, BASE + 110)):
        if until is None:
            h.enable(S1)
        else:
            await h.sleep_until(until)
        assert h.value(f"{S1}.SchdSt.stVal") == state
        assert isinstance(h.write(f"{S1}.ValASG003.setMag.f", float(state)), Accepted)
        assert isinstance(h.write(f"{S1}.SchdPrio.setVal", state), Accepted)


async def test_rule_2_value_written_while_running_takes_effect_at_next_boundary(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 10])
    await h.sleep_until(BASE + 20)
    h.write(f"{S1}.ValASG001.setMag.f", 10.0)
    h.write(f"{S1}.ValASG002.setMag.f", 20.0)
    assert h.value(f"{S1}.ValMV.mag.f") == 1.0
    await h.sleep_until(BASE + 100)
    assert h.recorder.timeline(FSCC) == [(10, 1.0, "F_FSCH01"), (70, 20.0, "F_FSCH01")]


async def test_rule_2_num_entr_and_intv_written_while_running_apply_to_the_next_run(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0, 3.0], intv=60, prio=1, starts=[BASE + 10, BASE + 500])
    await h.sleep_until(BASE + 20)
    h.write(f"{S1}.NumEntr.setVal", 1)
    h.write(f"{S1}.SchdIntv.setVal", 30)
    await h.sleep_until(BASE + 600)
    assert h.recorder.timeline(FSCC) == [
        (10, 1.0, "F_FSCH01"),
        (70, 2.0, "F_FSCH01"),
        (130, 3.0, "F_FSCH01"),
        (190, None, None),
        (500, 1.0, "F_FSCH01"),
        (530, None, None),
    ]


async def test_rule_2_start_time_write_takes_effect_at_once(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 100])
    h.write(f"{S1}.StrTm01.setTm", BASE + 200)
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 200
    await h.sleep_until(BASE + 300)
    assert h.recorder.timeline(FSCC) == [(200, 1.0, "F_FSCH01"), (260, None, None)]


async def test_rule_2_past_start_time_whose_run_is_over_is_rejected(db: Path) -> None:
    h = start_engine(small_spec(), db, base=BASE + 1000)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 2000], enable=False)
    assert rejected(h.write(f"{S1}.StrTm01.setTm", BASE + 880), RejectReason.VALUE_INVALID)
    assert h.value(f"{S1}.StrTm01.setTm") == BASE + 2000


async def test_rule_2_past_start_time_whose_run_is_not_over_is_joined(db: Path) -> None:
    h = start_engine(small_spec(), db, base=BASE + 1000)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 2000])
    assert isinstance(h.write(f"{S1}.StrTm01.setTm", BASE + 950), Accepted)
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    assert h.value(f"{S1}.SchdEntr.stVal") == 1
    assert h.engine.output(FSCC).value == 1.0  # type: ignore[union-attr]


async def test_rule_2_writing_zero_clears_the_start_time(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 100, BASE + 200])
    assert isinstance(h.write(f"{S1}.StrTm01.setTm", 0), Accepted)
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 200
    assert isinstance(h.write(f"{S1}.StrTm02.setTm", 0.0), Accepted)
    assert h.value(f"{S1}.SchdSt.stVal") == 1  # nothing ahead any more


async def test_rule_2_schd_intv_honours_its_units(db: Path) -> None:
    h = start_engine(small_spec(intv_unit=60.0), db)  # SchdIntv in minutes
    h.program(S1, values=[1.0, 2.0], intv=2, prio=1, starts=[BASE + 10])
    await h.sleep_until(BASE + 400)
    assert h.recorder.timeline(FSCC) == [(10, 1.0, "F_FSCH01"), (130, 2.0, "F_FSCH01"), (250, None, None)]


@pytest.mark.parametrize(
    ("attribute", "value", "reason"),
    [
        ("ValASG001.setMag.f", "1.0", RejectReason.TYPE_CONFLICT),
        ("ValASG001.setMag.f", True, RejectReason.TYPE_CONFLICT),
        ("NumEntr.setVal", 2.5, RejectReason.TYPE_CONFLICT),
        ("NumEntr.setVal", 2**31, RejectReason.VALUE_INVALID),
        ("SchdPrio.setVal", "high", RejectReason.TYPE_CONFLICT),
        ("StrTm01.setTm", -1.0, RejectReason.VALUE_INVALID),
        ("StrTm01.setTm", 2.0**32, RejectReason.VALUE_INVALID),  # past MMS UtcTime: would read back as 1970
        ("StrTm01.setTm", 3e11, RejectReason.VALUE_INVALID),  # the year 11476: no datetime holds it
        ("StrTm01.setTm", 2**64 + 200, RejectReason.VALUE_INVALID),
        ("StrTm01.setTm", "2024-01-01", RejectReason.TYPE_CONFLICT),
        ("SchdReuse.setVal", 1, RejectReason.TYPE_CONFLICT),
        ("SchdSt.stVal", 4, RejectReason.ACCESS_DENIED),
        ("ValMV.mag.f", 1.0, RejectReason.ACCESS_DENIED),
        ("ValASG011.setMag.f", 1.0, RejectReason.OBJECT_UNDEFINED),
        (
            "StrTm01.setCal",
            CalendarTime(),
            RejectReason.OBJECT_UNDEFINED,
        ),  # one-shot start times have no setCal
    ],
)
async def test_rule_2_invalid_writes_are_rejected_with_their_reason(
    db: Path, attribute: str, value: object, reason: RejectReason
) -> None:
    h = start_engine(small_spec(), db)
    before = h.engine.snapshot()
    assert rejected(h.write(f"{S1}.{attribute}", value), reason)
    assert h.engine.snapshot() == before


async def test_rule_2_unknown_object_is_undefined(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert rejected(h.write(ln("F_FSCH77.NumEntr.setVal"), 1), RejectReason.OBJECT_UNDEFINED)
    assert rejected(h.write("garbage", 1), RejectReason.OBJECT_UNDEFINED)


async def test_rule_2_value_kinds_spg_ing_eng(db: Path) -> None:
    for kind, good, bad in (
        (ValueCdc.SPG, True, 1.0),
        (ValueCdc.ING, 7, 7.5),
        (ValueCdc.ENG, 3, "three"),
    ):
        h = start_engine(small_spec(kind=kind), db.with_name(f"{kind.value}.sqlite"))
        ref = f"{S1}.Val{kind.value}001.setVal"
        assert isinstance(h.write(ref, good), Accepted)
        assert h.value(ref) == good
        assert rejected(h.write(ref, bad), RejectReason.TYPE_CONFLICT)
        h.stop()


async def test_rule_2_set_cal_members_and_whole_struct(db: Path) -> None:
    h = start_engine(small_spec(periodic=True), db)
    assert isinstance(h.write(f"{S1}.StrTm01.setCal.occPer", int(Period.DAY)), Accepted)
    assert isinstance(h.write(f"{S1}.StrTm01.setCal.hr", 6), Accepted)
    assert h.value(f"{S1}.StrTm01.setCal") == CalendarTime(occ_per=Period.DAY, hr=6)
    assert h.value(f"{S1}.StrTm01.setCal.hr") == 6
    assert rejected(h.write(f"{S1}.StrTm01.setCal.hr", 256), RejectReason.VALUE_INVALID)
    assert rejected(h.write(f"{S1}.StrTm01.setCal", {"hr": 1}), RejectReason.TYPE_CONFLICT)


async def test_rule_2_write_breaking_an_enabled_schedule_is_rejected(db: Path) -> None:
    h = start_engine(small_spec(periodic=True), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 1], reuse=True)
    for attribute, value in (
        ("NumEntr.setVal", 0),
        ("SchdIntv.setVal", 0),
        ("ValASG002.setMag.f", float("nan")),
        ("StrTm01.setCal.occPer", int(Period.YEAR)),
    ):
        assert rejected(h.write(f"{S1}.{attribute}", value), RejectReason.VALUE_INVALID), attribute
    assert h.value(f"{S1}.SchdSt.stVal") == 3
    assert isinstance(h.write(f"{S1}.ValASG003.setMag.f", float("nan")), Accepted)  # beyond NumEntr


@pytest.mark.parametrize(
    ("lockable", "attribute", "value"),
    [
        (Lockable.SCHD_PRIO, "SchdPrio.setVal", 5),
        (Lockable.STR_TM, "StrTm01.setTm", BASE + 60),
        (Lockable.SCHD_REUSE, "SchdReuse.setVal", True),
        (Lockable.VALUES, "ValASG001.setMag.f", 1.0),
        (Lockable.NUM_ENTR, "NumEntr.setVal", 1),
        (Lockable.SCHD_INTV, "SchdIntv.setVal", 1),
    ],
)
async def test_rule_2_policy_locked_write_is_access_denied(
    db: Path, lockable: Lockable, attribute: str, value: object
) -> None:
    h = start_engine(small_spec(), db, policies={S1: SchedulePolicy(locked=frozenset({lockable}))})
    assert rejected(h.write(f"{S1}.{attribute}", value), RejectReason.ACCESS_DENIED)
    assert isinstance(h.write(f"{S2}.{attribute}", value), Accepted)


async def test_rule_2_reserve_locked_for_priority_start_time_and_control_by_default(db: Path) -> None:
    h = start_engine(small_spec(reserve=True, periodic=True), db)
    assert rejected(h.write(f"{RES}.SchdPrio.setVal", 50), RejectReason.ACCESS_DENIED)
    assert rejected(h.write(f"{RES}.StrTm01.setTm", BASE), RejectReason.ACCESS_DENIED)
    assert rejected(h.write(f"{RES}.StrTm01.setCal.mn", 5), RejectReason.ACCESS_DENIED)
    assert rejected(h.disable(RES), RejectReason.ACCESS_DENIED)
    assert rejected(h.enable(RES), RejectReason.ACCESS_DENIED)
    assert isinstance(h.write(f"{RES}.ValASG001.setMag.f", 12.5), Accepted)


async def test_rule_2_every_accepted_write_is_persisted_before_it_returns(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert isinstance(h.write(f"{S1}.SchdPrio.setVal", 77), Accepted)
    with opened(db) as other:  # another connection sees the committed row at once
        (data,) = other.execute("SELECT data FROM schedule WHERE ref = ?", (S1,)).fetchone()
    assert '"schd_prio": 77' in data
