"""Schedule and controller names on the relevent-ctl command line."""

from __future__ import annotations

import pytest

from relevent.ctl.errors import UsageError
from relevent.ctl.model import OutputAddress, RemoteController, RemoteModel, RemoteSchedule, names_ref
from relevent.scheduler.spec import ValueCdc

REF = "DER_Scheduler_Control/ActPow_FSCH01"


@pytest.mark.parametrize(
    ("name", "names"),
    [
        ("ActPow_FSCH01", True),
        ("@Control/ActPow_FSCH01", True),
        (REF, True),
        ("@Other/ActPow_FSCH01", False),
        ("@/ActPow_FSCH01", False),
        ("ActPow_FSCH02", False),
        ("Other_Control/ActPow_FSCH01", False),
    ],
)
def test_the_three_forms_of_a_name(name: str, names: bool) -> None:
    assert names_ref(name, REF) is names


def _model(*lds: str) -> RemoteModel:
    schedules = tuple(RemoteSchedule(f"{ld}/ActPow_FSCH01", ValueCdc.ASG, ("ValASG001",), ()) for ld in lds)
    controllers = (RemoteController(f"{lds[0]}/ActPow_FSCC1", ("Schd01",), OutputAddress("ValMV", "mag.f")),)
    return RemoteModel(lds, schedules, controllers)


def test_a_name_found_in_several_lds_needs_the_ld() -> None:
    model = _model("A_Control", "B_Control")
    with pytest.raises(UsageError, match="several schedules"):
        model.schedule("ActPow_FSCH01")
    assert model.schedule("@B_Control/ActPow_FSCH01").ref == "B_Control/ActPow_FSCH01"
    assert model.controller("ActPow_FSCC1").ref == "A_Control/ActPow_FSCC1"


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="no schedule 'Nope'; known: ActPow_FSCH01"):
        _model("A_Control").schedule("Nope")
