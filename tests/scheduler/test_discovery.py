"""Spec section 1: schedules, controllers and targets discovered from the reference SCL models."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.discovery import model_spec
from relevent.scheduler.periodic import CalendarTime
from relevent.scheduler.spec import ValueCdc
from relevent.scheduler.values import ValueType
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load
from tests.conftest import MODEL_NAMES, ReferenceDir

from .factory import BASE, RESERVE_SET_TM, ln
from .harness import start_engine


def test_rule_1_reference_model_is_discovered(reference_dir: ReferenceDir) -> None:
    model = model_spec(load(reference_dir.model("der_scheduler")))
    assert model.ied_name == "DER_Scheduler_"
    assert len(model.schedules) == 33
    assert [c.ref for c in model.controllers] == [ln("ActPow_FSCC1"), ln("MaxPow_FSCC1"), ln("OnOff_FSCC1")]
    fsch = next(s for s in model.schedules if s.ref == ln("ActPow_FSCH01"))
    assert (fsch.kind, len(fsch.value_names), len(fsch.start_times), fsch.num_entr) == (
        ValueCdc.ASG,
        100,
        16,
        100,
    )
    assert fsch.value_names[0] == "ValASG001"
    assert not fsch.reserve
    assert not any(start.periodic for start in fsch.start_times)
    reserve = next(s for s in model.schedules if s.ref == ln("ActPow_Res_FSCH01"))
    assert reserve.reserve
    assert (reserve.num_entr, reserve.schd_intv, reserve.schd_prio, reserve.reuse) == (1, 3600, 0, True)
    assert reserve.start_times[0].initial.set_tm == RESERVE_SET_TM
    assert reserve.start_times[0].initial.cal == CalendarTime()
    onoff = next(s for s in model.schedules if s.ref == ln("OnOff_FSCH01"))
    assert onoff.kind is ValueCdc.SPG
    act = model.controllers[0]
    assert act.schedule_refs[-1] == reserve.ref
    assert act.ctl_ent == ln("ActPow_GGIO1.AnOut1.mxVal.f")
    assert model.controllers[2].value_type is ValueType.BOOL
    assert model.controllers[2].output_do == "ValSPS"
    assert model.targets[ln("ActPow_GGIO1.AnOut1")] == model.targets[ln("ActPow_GGIO1.AnOut1.mxVal.f")]
    assert model.targets[ln("OnOff_GGIO1.SPCSO1")].value_ref == ln("OnOff_GGIO1.SPCSO1.stVal")
    assert not any("FSCH" in ref for ref in model.targets)


def test_rule_1_newer_and_minimal_models_are_discovered(reference_dir: ReferenceDir) -> None:
    newer = model_spec(load(reference_dir.model("relevent_scheduling")))
    assert newer.controllers[0].ctl_ent == ln("ActPow_GGIO1.AnOut1")  # CtlEnt at DO level
    minimal = model_spec(load(reference_dir.model("relevent_minimal")))
    assert len(minimal.schedules) == 3
    reserve = next(s for s in minimal.schedules if s.reserve)
    assert reserve.values[0] == 2200.0
    assert reserve.start_times[0].initial.set_tm == 1.0  # 1970-01-01T00:00:01Z: "always"


@pytest.mark.looptime(start=0)
@pytest.mark.parametrize("name", sorted(MODEL_NAMES))
async def test_rule_6_discovered_reserves_feed_every_controller_from_start_up(
    db: Path, name: str, reference_dir: ReferenceDir
) -> None:
    model = model_spec(load(reference_dir.model(name)))
    h = start_engine(model, db)
    for controller in model.controllers:
        output = h.engine.output(controller.ref)
        assert output is not None
        assert output.source is not None
        assert output.source.split("/")[1].split("_")[1] == "Res"
    await h.sleep_until(BASE + 2 * 3600 + 1)
    assert h.recorder.outputs() == []  # no gap at the hourly restarts


def test_rule_5_ctlent_targets_are_outputs_never_measurements() -> None:
    model = model_spec(load(DEFAULT_MODEL))
    assert model.targets[ln("ActPow_GGIO1.AnOut1")].value_ref == ln("ActPow_GGIO1.AnOut1.mxVal.f")
    assert model.targets[ln("OnOff_GGIO1.SPCSO1")].value_ref == ln("OnOff_GGIO1.SPCSO1.stVal")
    assert not [ref for ref in model.targets if "MMXU" in ref]  # an MV, but the measurement SCADA reads
