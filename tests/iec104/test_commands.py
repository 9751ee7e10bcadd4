"""What a 104 command asks the core, and the point map's checks (no network)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from relevent.config import SclSection
from relevent.errors import ConfigError
from relevent.scheduler.commands import Actor
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.verdicts import NOW, UNTIL_CHANGED, ActorSlots, Intent, IntentFunction
from relevent.scl.parse import load
from relevent.wan.iec104 import service as iec104
from relevent.wan.iec104.commands import Cancel, ScadaCommand, key, request
from relevent.wan.iec104.config import Iec104Point, Iec104Section

ACTOR = Actor("iec104", "127.0.0.1:2404", "dso")
MAX = {"target": "@Control/MaxPow_FSCC1", "function": "MaxPow"}


def point(**fields: Any) -> Iec104Point:
    return Iec104Point.model_validate({"ioa": 3001, "type": "C_SE_NC_1", **MAX, **fields})


def section(*points: Iec104Point, **fields: Any) -> Iec104Section:
    return Iec104Section(points=points, **fields)


def test_a_setpoint_is_the_actors_until_changed_intent_keyed_by_target_and_function() -> None:
    setpoint = point(min=0.0, max=50.0)
    asked = request(section(setpoint), ACTOR, ScadaCommand(setpoint, 7.5, originator=0), now=1000.0)
    assert asked == Intent(ACTOR, key(setpoint), "@Control/MaxPow_FSCC1", IntentFunction.MAX_POW, NOW,
                           UNTIL_CHANGED, (7.5,))  # fmt: skip
    release = point(ioa=3011, type="C_SC_NA_1", release=True)
    assert request(section(setpoint, release), ACTOR, ScadaCommand(release, True, 0), 1000.0) == Cancel(
        ACTOR, key(setpoint)
    )


@pytest.mark.parametrize(
    ("command", "fields", "reason"),
    [(ScadaCommand(point(max=50.0), 50.5, 0), {}, "outside"),
     (ScadaCommand(point(), 1.0, 7), {"allowed_originators": (3,)}, "originator 7"),
     (ScadaCommand(point(type="C_SE_TC_1"), 1.0, 0, time_tag=900.0), {"max_cmd_age_s": 30.0}, "100.0 s old"),
     (ScadaCommand(point(ioa=3011, type="C_SC_NA_1", release=True), False, 0), {}, "ON only")],
)  # fmt: skip
def test_refusals_before_the_core_is_asked(
    command: ScadaCommand, fields: dict[str, Any], reason: str
) -> None:
    asked = request(section(command.point, **fields), ACTOR, command, now=1000.0)
    assert isinstance(asked, str)
    assert reason in asked


@pytest.mark.parametrize(
    ("fields", "problem"),
    [({"function": None}, "needs a function"), ({"type": "C_SE_NC_1", "release": True}, "single command"),
     ({"type": "C_SE_NC_1", "function": "OnOff"}, "OnOff is switched"),
     ({"type": "C_SC_NA_1"}, "takes a setpoint"), ({"type": "M_ME_NC_1", "function": None}, "needs show"),
     ({"type": "M_ME_NC_1", "function": None, "show": "running"}, "shows an output")],
)  # fmt: skip
def test_a_point_without_a_clear_meaning_is_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        point(**fields)


def test_an_ioa_configured_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="IOA 3001 is configured twice"):
        section(point(), point())


@pytest.mark.parametrize(
    ("fields", "problem"),
    [({"k": 4, "w": 8}, "above k"), ({"t1_s": 10, "t2_s": 10}, "below t1"),
     ({"t1_s": 2, "t2_s": 1, "command_timeout_s": 2.0}, "well below t1")],
)  # fmt: skip
def test_link_parameters_that_cannot_work_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Iec104Section(**fields)


def test_check_config_refuses_targets_that_do_not_exist() -> None:
    model = model_spec(load(SclSection().path))
    shares = {"dso": ActorSlots((60, 69), ("DER_Scheduler_Control/MaxPow_FSCH03",))}
    good = section(point(), enabled=True)
    assert iec104.check(good, model, shares, ["bat1"]) is not None
    with pytest.raises(ConfigError, match="no controller and no device"):
        iec104.check(section(point(target="pv9"), enabled=True), model, shares, ["bat1"])
    with pytest.raises(ConfigError, match="needs a \\[\\[devices\\]\\] id"):
        iec104.check(section(point(refuse_when_unreachable=True), enabled=True), model, shares, ["bat1"])
    with pytest.raises(ConfigError, match="needs band and slots"):
        iec104.check(good, model, {}, ["bat1"])
