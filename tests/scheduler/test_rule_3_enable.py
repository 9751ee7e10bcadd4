"""Spec section 3: EnaReq/DsaReq, validation order and SchdEnaErr codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.periodic import CalendarTime, Period
from relevent.scheduler.policy import SchedulePolicy

from .factory import BASE, ln, small_spec
from .harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")


def programmed(db: Path, **spec: object) -> Harness:
    h = start_engine(small_spec(**spec), db)  # type: ignore[arg-type]
    h.program(S1, values=[1.0, 2.0], intv=60, prio=10, starts=[BASE + 600], enable=False)
    return h


def enable_error(h: Harness) -> int | None:
    result = h.enable(S1)
    if isinstance(result, Accepted):
        return None
    assert result.reason is RejectReason.VALUE_INVALID
    return result.schd_ena_err


async def test_rule_3_success_sets_none_nxtstrtm_and_ready(db: Path) -> None:
    h = programmed(db)
    assert enable_error(h) is None
    assert h.value(f"{S1}.SchdEnaErr.stVal") == 1
    assert h.value(f"{S1}.SchdSt.stVal") == 3
    assert h.read(f"{S1}.NxtStrTm.stVal").quality_good
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 600


@pytest.mark.parametrize("num_entr", [0, -1, 11])
async def test_rule_3_code_2_missing_valid_num_entr(db: Path, num_entr: int) -> None:
    h = programmed(db)
    h.write(f"{S1}.NumEntr.setVal", num_entr)
    assert enable_error(h) == 2
    assert h.value(f"{S1}.SchdEnaErr.stVal") == 2
    assert h.value(f"{S1}.SchdSt.stVal") == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
async def test_rule_3_code_4_missing_valid_values(db: Path, bad: float) -> None:
    h = programmed(db)
    h.write(f"{S1}.ValASG002.setMag.f", bad)
    assert enable_error(h) == 4


async def test_rule_3_code_4_ignores_values_beyond_num_entr(db: Path) -> None:
    h = programmed(db)
    h.write(f"{S1}.ValASG003.setMag.f", float("nan"))
    assert enable_error(h) is None


@pytest.mark.parametrize("intv", [0, -60])
async def test_rule_3_code_3_missing_valid_schd_intv(db: Path, intv: int) -> None:
    h = programmed(db)
    h.write(f"{S1}.SchdIntv.setVal", intv)
    assert enable_error(h) == 3


async def test_rule_3_code_6_no_start_time(db: Path) -> None:
    h = programmed(db)
    h.write(f"{S1}.StrTm01.setTm", 0.0)
    assert enable_error(h) == 6


async def test_rule_3_code_6_only_start_times_whose_run_is_over(db: Path) -> None:
    h = programmed(db)
    await h.sleep_until(BASE + 600 + 120)  # the run of StrTm01 would be over now
    assert enable_error(h) == 6


@pytest.mark.parametrize(
    "cal",
    [
        CalendarTime(occ_type=1),  # WeekDay occurrences: unsupported
        CalendarTime(occ_per=Period.YEAR),
        CalendarTime(occ_per=Period.HOUR, mn=60),
        CalendarTime(occ_per=Period.DAY, hr=24),
        CalendarTime(occ_per=Period.WEEK, week_day=0),
        CalendarTime(occ_per=Period.MONTH, day=0),
        CalendarTime(occ_per=Period.MONTH, day=32),
    ],
)
async def test_rule_3_code_6_unsupported_or_inconsistent_calendar(db: Path, cal: CalendarTime) -> None:
    h = programmed(db, periodic=True)
    assert isinstance(h.write(f"{S1}.StrTm01.setCal", cal), Accepted)
    assert enable_error(h) == 6


async def test_rule_3_code_6_periodic_run_longer_than_its_period(db: Path) -> None:
    h = programmed(db, periodic=True)
    h.write(f"{S1}.SchdIntv.setVal", 1801)  # 2 entries > 1 hour
    assert enable_error(h) == 6


async def test_rule_3_first_failure_wins_in_spec_order(db: Path) -> None:
    h = programmed(db)
    for ref, value in [
        (f"{S1}.StrTm01.setTm", 0.0),
        (f"{S1}.SchdIntv.setVal", 0),
        (f"{S1}.ValASG001.setMag.f", float("nan")),
        (f"{S1}.NumEntr.setVal", 0),
    ]:
        h.write(ref, value)
    codes = []
    for ref, fixed in [
        (f"{S1}.NumEntr.setVal", 2),
        (f"{S1}.ValASG001.setMag.f", 1.0),
        (f"{S1}.SchdIntv.setVal", 60),
        (f"{S1}.StrTm01.setTm", BASE + 600),
    ]:
        codes.append(enable_error(h))
        h.write(ref, fixed)
    codes.append(enable_error(h))
    assert codes == [2, 4, 3, 6, None]


async def test_rule_3_enable_of_a_running_schedule_keeps_it_running(db: Path) -> None:
    h = programmed(db)
    h.write(f"{S1}.StrTm01.setTm", BASE + 10)
    assert enable_error(h) is None
    await h.sleep_until(BASE + 20)
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    # Re-enabling a running schedule validates again; a still-valid schedule keeps running.
    assert enable_error(h) is None
    assert h.value(f"{S1}.SchdSt.stVal") == 4


async def test_rule_3_remote_control_locked_is_access_denied_and_changes_nothing(db: Path) -> None:
    policies = {S1: SchedulePolicy(control_locked=True)}
    h = start_engine(small_spec(), db, policies=policies)
    h.program(S1, values=[1.0], intv=60, prio=10, starts=[BASE + 60], enable=False)
    h.recorder.clear()
    for control in ("EnaReq", "DsaReq"):
        result = h.operate(f"{S1}.{control}")
        assert isinstance(result, Rejected)
        assert result.reason is RejectReason.ACCESS_DENIED
    assert h.recorder.events == []
    assert h.value(f"{S1}.SchdSt.stVal") == 1


@pytest.mark.parametrize(("ctl_val", "test"), [(False, False), (True, True), (False, True)])
async def test_rule_3_ctlval_false_or_test_flag_accepted_without_effect(
    db: Path, ctl_val: bool, test: bool
) -> None:
    h = programmed(db)
    h.recorder.clear()
    assert isinstance(h.operate(f"{S1}.EnaReq", ctl_val, test), Accepted)
    assert h.value(f"{S1}.SchdSt.stVal") == 1
    h.write(f"{S1}.NumEntr.setVal", 0)
    h.recorder.clear()
    assert isinstance(h.operate(f"{S1}.EnaReq", ctl_val, test), Accepted)  # no validation either
    assert h.recorder.events == []


async def test_rule_3_dsareq_invalidates_outputs_and_resets_entry(db: Path) -> None:
    h = programmed(db)
    h.write(f"{S1}.StrTm01.setTm", BASE + 10)
    h.enable(S1)
    await h.sleep_until(BASE + 80)
    assert h.value(f"{S1}.SchdEntr.stVal") == 2
    assert isinstance(h.disable(S1), Accepted)
    assert h.value(f"{S1}.SchdSt.stVal") == 1
    assert h.value(f"{S1}.SchdEntr.stVal") == 0
    for do in ("ValMV.mag.f", "ActStrTm.stVal", "NxtStrTm.stVal"):
        assert not h.read(f"{S1}.{do}").quality_good, do


async def test_rule_3_operate_unknown_control_is_object_undefined(db: Path) -> None:
    h = programmed(db)
    for ref in (f"{S1}.SchdSt", ln("F_FSCH99.EnaReq"), f"{FSCC}.EnaReq"):
        result = h.operate(ref)
        assert isinstance(result, Rejected)
        assert result.reason is RejectReason.OBJECT_UNDEFINED
    assert isinstance(h.operate("@Control/F_FSCH01.EnaReq.Oper"), Accepted)


async def test_an_operate_addressed_to_oper_audits_the_schedule_state_like_one_to_the_do(db: Path) -> None:
    h = programmed(db)
    h.recorder.commands.clear()
    assert isinstance(h.operate(f"{S1}.EnaReq.Oper"), Accepted)
    assert isinstance(h.operate(f"{S1}.DsaReq"), Accepted)
    assert [(c.old, c.new) for c in h.recorder.commands] == [(1, 3), (3, 1)]  # SchdSt: NOT_READY <-> READY
