"""Spec section 5: priority resolution, controller outputs, CtlEnt and SchdNN references."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted, Rejected, RejectReason
from relevent.scheduler.events import AttributeChanged, OutputChanged
from relevent.scheduler.spec import ValueCdc

from .factory import BASE, ln, reference_like_spec, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2, S3 = ln("F_FSCH01"), ln("F_FSCH02"), ln("F_FSCH03")
FSCC = ln("F_FSCC1")
ACT = ln("ActPow_FSCC1")


async def test_scenario_ten_overlapping_schedules_priorities_11_to_120(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    priorities = [120, 11, 99, 20, 85, 35, 77, 42, 63, 58]
    for k, prio in enumerate(priorities, start=1):
        h.program(
            ln(f"ActPow_FSCH{k:02d}"),
            values=[10.0 * k, 10.0 * k + 1],
            intv=300,
            prio=prio,
            starts=[BASE + 60 * k],
        )
    await h.sleep_until(BASE + 1300)
    assert h.recorder.timeline(ACT) == [
        (60, 10.0, "ActPow_FSCH01"),
        (360, 11.0, "ActPow_FSCH01"),
        (660, 31.0, "ActPow_FSCH03"),
        (780, 51.0, "ActPow_FSCH05"),
        (900, 71.0, "ActPow_FSCH07"),
        (1020, 91.0, "ActPow_FSCH09"),
        (1140, 101.0, "ActPow_FSCH10"),
        (1200, 0.0, "ActPow_Res_FSCH01"),
    ]
    assert [o.priority for o in h.recorder.outputs(ACT)] == [120, 120, 99, 85, 77, 63, 58, 0]


async def test_rule_5_equal_priority_later_start_wins(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=300, prio=10, starts=[BASE + 10])
    h.program(S2, values=[2.0], intv=100, prio=10, starts=[BASE + 20])
    await h.sleep_until(BASE + 400)
    assert h.recorder.timeline(FSCC) == [
        (10, 1.0, "F_FSCH01"),
        (20, 2.0, "F_FSCH02"),
        (120, 1.0, "F_FSCH01"),
        (310, None, None),
    ]


async def test_rule_5_equal_priority_and_start_lower_list_position_wins(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S2, values=[2.0], intv=300, prio=10, starts=[BASE + 10])
    h.program(S1, values=[1.0], intv=300, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 20)
    assert h.recorder.timeline(FSCC) == [(10, 1.0, "F_FSCH01")]
    # Position in the SchdNN list decides, not the name: swap them.
    for slot, ref in (("Schd01", ""), ("Schd02", S1), ("Schd01", S2)):
        assert isinstance(h.write(f"{FSCC}.{slot}.setSrcRef", ref), Accepted)
    assert h.recorder.timeline(FSCC)[-1] == (20, 2.0, "F_FSCH02")


async def test_rule_5_disabled_schedule_releases_the_output_at_once(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=300, prio=10, starts=[BASE + 10])
    h.program(S2, values=[2.0], intv=300, prio=20, starts=[BASE + 10])
    await h.sleep_until(BASE + 42.5)
    h.disable(S2)
    assert h.recorder.timeline(FSCC) == [(10, 2.0, "F_FSCH02"), (42.5, 1.0, "F_FSCH01")]
    h.disable(S1)
    assert h.recorder.timeline(FSCC)[-1] == (42.5, None, None)


async def test_rule_5_nothing_running_gives_no_value_and_invalid_quality(db: Path) -> None:
    h = start_engine(small_spec(ctl_ent=ln("ActPow_GGIO1.AnOut1.mxVal.f")), db)
    h.program(S1, values=[4.0], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 100)
    assert h.recorder.outputs(FSCC)[-1] == OutputChanged(FSCC, None, None, None, BASE + 70)
    assert h.read(f"{FSCC}.ActSchdRef.stVal") == h.read(f"{FSCC}.ActSchdRef.stVal").__class__(
        "", False, BASE + 70
    )
    assert not h.read(f"{FSCC}.ValMV.mag.f").quality_good
    assert not h.read(ln("ActPow_GGIO1.AnOut1.mxVal.f")).quality_good


async def test_rule_5_output_only_on_change(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[5.0, 5.0, 5.0, 6.0], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 400)
    assert h.recorder.timeline(FSCC) == [(10, 5.0, "F_FSCH01"), (190, 6.0, "F_FSCH01"), (250, None, None)]
    assert [c.timestamp - BASE for c in h.recorder.changes(f"{FSCC}.ValMV.mag.f")] == [10, 190, 250]


async def test_rule_5_active_schedule_ref_and_output_attributes(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S3, values=[3.0], intv=60, prio=10, starts=[BASE + 10])
    event = await h.recorder.wait_for(
        lambda e: isinstance(e, AttributeChanged) and e.ref.endswith("ActSchdRef.stVal"), 20
    )
    assert event == AttributeChanged(f"{FSCC}.ActSchdRef.stVal", S3, True, BASE + 10)
    assert h.read(f"{FSCC}.ValMV.mag.f").value == 3.0


@pytest.mark.parametrize(
    ("ctl_ent", "written"),
    [
        ("@Control/ActPow_GGIO1.AnOut1.mxVal.f", "ActPow_GGIO1.AnOut1.mxVal.f"),
        ("@Control/ActPow_GGIO1.AnOut1", "ActPow_GGIO1.AnOut1.mxVal.f"),
        ("DER_Scheduler_Control/Aux_GGIO1.AnOut2", "Aux_GGIO1.AnOut2.mag.f"),
    ],
)
async def test_rule_5_ctlent_target_is_written_with_quality_and_time(
    db: Path, ctl_ent: str, written: str
) -> None:
    h = start_engine(small_spec(), db)
    assert isinstance(h.write(f"{FSCC}.CtlEnt.setSrcRef", ctl_ent), Accepted)
    h.program(S1, values=[9.5], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 100)
    changes = [(c.value, c.quality_good, c.timestamp - BASE) for c in h.recorder.changes(ln(written))]
    assert changes == [(9.5, True, 10), (9.5, False, 70)]


async def test_rule_5_spc_target_gets_stval(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    onoff = ln("OnOff_FSCH01")
    h.program(onoff, values=[True, False], intv=60, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 80)
    changes = [
        (c.value, c.quality_good, c.timestamp - BASE)
        for c in h.recorder.changes(ln("OnOff_GGIO1.SPCSO1.stVal"))
    ]
    assert changes == [(True, True, 10), (False, True, 70)]
    assert h.value(ln("OnOff_FSCC1.ValSPS.stVal")) is False


async def test_rule_5_ctlent_change_writes_the_current_output_to_the_new_target(db: Path) -> None:
    h = start_engine(small_spec(ctl_ent=ln("ActPow_GGIO1.AnOut1")), db)
    h.program(S1, values=[3.0], intv=600, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 50)
    h.write(f"{FSCC}.CtlEnt.setSrcRef", ln("MaxPow_GGIO1.AnOut1"))
    assert h.recorder.changes(ln("MaxPow_GGIO1.AnOut1.mxVal.f")) == [
        AttributeChanged(ln("MaxPow_GGIO1.AnOut1.mxVal.f"), 3.0, True, BASE + 50)
    ]
    assert h.value(f"{FSCC}.CtlEnt.setSrcRef") == ln("MaxPow_GGIO1.AnOut1")


async def test_rule_5_empty_ctlent_controls_nothing(db: Path) -> None:
    h = start_engine(small_spec(ctl_ent=ln("ActPow_GGIO1.AnOut1")), db)
    assert isinstance(h.write(f"{FSCC}.CtlEnt.setSrcRef", ""), Accepted)
    h.program(S1, values=[3.0], intv=600, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 50)
    assert h.recorder.changes(ln("ActPow_GGIO1.AnOut1.mxVal.f")) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("@Control/F_FSCH09", RejectReason.VALUE_INVALID),  # unknown
        ("@Control/F_FSCC1", RejectReason.VALUE_INVALID),  # a controller, not a schedule
        ("@Control/F_FSCH02", RejectReason.VALUE_INVALID),  # already in the list
        (None, RejectReason.TYPE_CONFLICT),
    ],
)
async def test_rule_5_schdnn_write_is_validated(db: Path, value: object, reason: RejectReason) -> None:
    h = start_engine(small_spec(), db)
    result = h.write(f"{FSCC}.Schd01.setSrcRef", value)
    assert isinstance(result, Rejected)
    assert result.reason is reason
    assert h.value(f"{FSCC}.Schd01.setSrcRef") == S1


async def test_rule_5_schdnn_of_the_wrong_value_kind_is_rejected(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    result = h.write(f"{ACT}.Schd01.setSrcRef", "@Control/OnOff_FSCH01")
    assert isinstance(result, Rejected)
    assert result.reason is RejectReason.VALUE_INVALID
    assert isinstance(h.write(f"{ACT}.Schd01.setSrcRef", "@Control/ActPow_FSCH01"), Accepted)  # unchanged


async def test_rule_5_schdnn_change_re_resolves_at_once(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=600, prio=10, starts=[BASE + 10])
    await h.sleep_until(BASE + 30)
    assert isinstance(h.write(f"{FSCC}.Schd01.setSrcRef", ""), Accepted)
    assert h.recorder.timeline(FSCC) == [(10, 1.0, "F_FSCH01"), (30, None, None)]
    assert h.recorder.changes(f"{FSCC}.Schd01.setSrcRef")[-1].value == ""


async def test_rule_5_status_refs_are_read_only(db: Path) -> None:
    h = start_engine(small_spec(kind=ValueCdc.SPG), db)
    for ref in (f"{FSCC}.ActSchdRef.stVal", f"{FSCC}.ValSPS.stVal"):
        result = h.write(ref, "x")
        assert isinstance(result, Rejected)
        assert result.reason is RejectReason.ACCESS_DENIED
    result = h.write(f"{FSCC}.Nothing.setSrcRef", "x")
    assert isinstance(result, Rejected)
    assert result.reason is RejectReason.OBJECT_UNDEFINED


async def test_rule_5_a_schedule_in_two_lists_drives_both_controllers_and_no_other(db: Path) -> None:
    """Commands and boundaries recompute only the controllers whose list names a changed schedule."""
    h = start_engine(reference_like_spec(), db)
    shared, max_pow = ln("ActPow_FSCH01"), ln("MaxPow_FSCC1")
    assert isinstance(h.write(f"{max_pow}.Schd02.setSrcRef", shared), Accepted)
    h.program(shared, values=[5.0, 6.0], intv=60, prio=50, starts=[BASE + 10])
    await h.sleep_until(BASE + 100)
    assert h.recorder.timeline(ACT) == [(10, 5.0, "ActPow_FSCH01"), (70, 6.0, "ActPow_FSCH01")]
    assert h.recorder.timeline(max_pow) == h.recorder.timeline(ACT)
    h.disable(shared)
    assert h.recorder.timeline(ACT)[-1] == (100, 0.0, "ActPow_Res_FSCH01")
    assert h.recorder.timeline(max_pow)[-1] == (100, 0.0, "MaxPow_Res_FSCH01")
    assert h.value(f"{max_pow}.ValMV.mag.f") == 0.0
    assert isinstance(h.write(f"{max_pow}.Schd02.setSrcRef", ""), Accepted)
    h.write(f"{shared}.StrTm01.setTm", BASE + 200)
    h.enable(shared)
    await h.sleep_until(BASE + 230)
    assert h.recorder.timeline(ACT)[-1] == (200, 5.0, "ActPow_FSCH01")
    assert h.recorder.timeline(max_pow)[-1] == (100, 0.0, "MaxPow_Res_FSCH01")
    assert h.value(f"{max_pow}.ValMV.mag.f") == 0.0
    assert h.recorder.outputs(ln("OnOff_FSCC1")) == []
