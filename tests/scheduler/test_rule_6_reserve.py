"""Spec section 6: reserve schedules keep every controller fed, without a gap."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.policy import SchedulePolicy
from relevent.scheduler.reserves import ReserveValues
from relevent.timing import STATUS_DELAY_S

from .factory import BASE, ln, reference_like_spec, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")
RES = ln("F_Res_FSCH01")


async def test_rule_6_reserves_run_from_start_up(db: Path) -> None:
    h = start_engine(reference_like_spec(), db, base=BASE + 1234)
    for function in ("ActPow_", "MaxPow_", "OnOff_"):
        reserve = ln(f"{function}Res_FSCH01")
        assert h.value(f"{reserve}.SchdSt.stVal") == 4
        assert h.value(f"{reserve}.ActStrTm.stVal") == BASE  # joined the hourly run in progress
        output = h.engine.output(ln(f"{function}FSCC1"))
        assert output is not None
        assert output.source == reserve
        assert output.priority == 0


async def test_scenario_reserve_takes_over_when_the_last_schedule_ends_and_every_hour_without_gap(
    db: Path,
) -> None:
    h = start_engine(small_spec(reserve=True), db)
    h.write(f"{RES}.ValASG001.setMag.f", 2.0)  # values stay writable; takes effect at the next hour
    h.program(S1, values=[7.0], intv=5400, prio=10, starts=[BASE + 1800])
    await h.sleep_until(BASE + 4 * 3600 + STATUS_DELAY_S)  # ActStrTm is status: it follows the outputs
    assert h.recorder.timeline(FSCC) == [
        (1800, 7.0, "F_FSCH01"),
        (7200, 2.0, "F_Res_FSCH01"),
    ]
    assert all(o.value is not None for o in h.recorder.outputs(FSCC))
    assert all(c.quality_good for c in h.recorder.changes(f"{FSCC}.ValMV.mag.f"))
    hours = [c.timestamp - BASE for c in h.recorder.changes(f"{RES}.ActStrTm.stVal")]
    assert hours == [3600 * k for k in range(1, 5)]
    assert all(c.value == 4 for c in h.recorder.changes(f"{RES}.SchdSt.stVal"))  # never left RUNNING


async def test_rule_6_reserve_value_write_applies_at_the_next_hourly_restart(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    await h.sleep_until(BASE + 600)
    assert isinstance(h.write(f"{RES}.ValASG001.setMag.f", 5.0), Accepted)
    assert h.engine.output(FSCC).value == 0.0  # type: ignore[union-attr]
    await h.sleep_until(BASE + 3600)
    assert h.recorder.timeline(FSCC) == [(3600, 5.0, "F_Res_FSCH01")]


@pytest.mark.parametrize("written", ["", ln("F_FSCH09"), ln("F_FSCH01")])
async def test_rule_6_the_reserve_slot_is_locked_like_its_disable(db: Path, written: str) -> None:
    h = start_engine(small_spec(reserve=True), db)
    slot = f"{FSCC}.Schd04.setSrcRef"
    result = h.write(slot, written)
    assert isinstance(result, Rejected)
    assert result.reason is RejectReason.ACCESS_DENIED
    assert h.value(slot) == RES
    assert h.engine.output(FSCC).source == RES  # type: ignore[union-attr]
    assert isinstance(h.write(slot, RES), Accepted)  # rewriting what it holds changes nothing


async def test_rule_6_an_unlocked_reserve_may_be_unbound(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db, policies={RES: SchedulePolicy()})
    assert isinstance(h.write(f"{FSCC}.Schd04.setSrcRef", ""), Accepted)
    assert h.engine.output(FSCC).source is None  # type: ignore[union-attr]


async def test_rule_6_a_stored_unbinding_of_a_now_locked_reserve_is_dropped_at_restart(db: Path) -> None:
    unlocked = start_engine(small_spec(reserve=True), db, policies={RES: SchedulePolicy()})
    assert isinstance(unlocked.write(f"{FSCC}.Schd04.setSrcRef", ""), Accepted)
    unlocked.stop()
    with structlog.testing.capture_logs() as logs:
        h = start_engine(small_spec(reserve=True), db)  # the reserve's default lock again
    assert h.value(f"{FSCC}.Schd04.setSrcRef") == RES
    assert h.engine.output(FSCC).source == RES  # type: ignore[union-attr]
    assert [e["ref"] for e in logs if e["log_level"] == "warning"] == [FSCC]


async def test_reserve_values_give_each_controller_its_reserve_schedules_value_now(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    reserves = ReserveValues(h.engine)
    h.write(f"{RES}.ValASG001.setMag.f", 5.0)
    h.program(S1, values=[7.0], intv=5400, prio=10, starts=[BASE + 60])
    await h.sleep_until(BASE + 600)
    assert h.engine.output(FSCC).value == 7.0  # type: ignore[union-attr]
    assert reserves.value(FSCC) == 0.0  # what the devices fall back to: the reserve, not the output
    await h.sleep_until(BASE + 3600)
    assert reserves.value(FSCC) == 5.0
    assert reserves.value(ln("Nothing_FSCC1")) is None


async def test_without_a_reserve_schedule_a_controller_has_no_reserve_value(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert ReserveValues(h.engine).value(FSCC) is None
