"""Spec section 9 (and issue #7): per-actor rights from `[[policy]]`, the same for every protocol.

The DSO may use priorities up to 200 on every schedule and controller; the market party only MaxPow
schedules 1-3 up to priority 50. Anything beyond gets access-denied, changes nothing, and is audited.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import ACCEPTED, Actor, Rejected, RejectReason
from relevent.scheduler.policy import Grant, Rights

from .factory import BASE, ln, reference_like_spec
from .harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

DSO = Actor("mms", "192.0.2.1:50000", "dso")
MARKET = Actor("mms", "192.0.2.2:50000", "market")
READER = Actor("mms", "192.0.2.3:50000", "reader")  # configured, no rights entry
ANONYMOUS = Actor("mms", "192.0.2.4:50000")
RIGHTS = Rights({
    "dso": (Grant(schedules=(f"{ln('')}*",), controllers=(f"{ln('')}*",), max_priority=200),),
    "market": (Grant(schedules=(ln("MaxPow_FSCH0[1-3]"),), max_priority=50),),
    "reader": (),
})  # fmt: skip
MAXPOW_1 = ln("MaxPow_FSCH01")
MAXPOW_4 = ln("MaxPow_FSCH04")
ACTPOW_1 = ln("ActPow_FSCH01")


def _engine(db: Path) -> Harness:
    return start_engine(reference_like_spec(), db, rights=RIGHTS, base=BASE + 10)


def _denied(result: object) -> str:
    assert isinstance(result, Rejected), result
    assert result.reason is RejectReason.ACCESS_DENIED
    return result.message


async def test_rule_9_an_actor_within_its_rights_is_accepted(db: Path) -> None:
    h = _engine(db)
    assert h.engine.write(f"{MAXPOW_1}.SchdPrio.setVal", 50, MARKET) is ACCEPTED
    assert h.engine.write(f"{MAXPOW_1}.ValASG001.setMag.f", 3.0, MARKET) is ACCEPTED
    assert h.engine.write(f"{ACTPOW_1}.SchdPrio.setVal", 200, DSO) is ACCEPTED
    assert h.engine.write(f"{ln('ActPow_FSCC1')}.Schd03.setSrcRef", "", DSO) is ACCEPTED


@pytest.mark.parametrize(
    ("ref", "value", "why"),
    [
        (f"{MAXPOW_4}.SchdPrio.setVal", 10, "has no rights on"),  # not one of its schedules
        (f"{ACTPOW_1}.ValASG001.setMag.f", 1.0, "has no rights on"),  # not its function
        (f"{MAXPOW_1}.SchdPrio.setVal", 51, "may not use priority 51"),  # beyond its band
        (f"{ln('MaxPow_FSCC1')}.Schd01.setSrcRef", "", "has no rights on"),  # no controllers granted
        (f"{ln('MaxPow_FSCC1')}.CtlEnt.setSrcRef", "", "has no rights on"),  # CtlEnt is the controller's too
    ],
)
async def test_rule_9_beyond_its_rights_is_access_denied_changes_nothing_and_is_audited(
    db: Path, ref: str, value: object, why: str
) -> None:
    h = _engine(db)
    before = h.value(ref)
    assert why in _denied(h.engine.write(ref, value, MARKET))
    assert h.value(ref) == before
    audited = h.recorder.commands[-1]
    assert (audited.ref, audited.actor, audited.old, audited.new) == (ref, MARKET, before, value)  # as asked


async def test_rule_9_enabling_a_schedule_above_the_actors_band_is_denied(db: Path) -> None:
    h = _engine(db)
    h.engine.write(f"{MAXPOW_1}.SchdPrio.setVal", 150, DSO)
    for ref, value in (
        (f"{MAXPOW_1}.ValASG001.setMag.f", 5.0),
        (f"{MAXPOW_1}.NumEntr.setVal", 1),
        (f"{MAXPOW_1}.SchdIntv.setVal", 60),
        (f"{MAXPOW_1}.StrTm01.setTm", BASE + 60),
    ):
        assert h.engine.write(ref, value, MARKET) is ACCEPTED  # fmt: skip
    assert "may not use priority 150" in _denied(h.engine.operate(f"{MAXPOW_1}.EnaReq", True, False, MARKET))
    assert h.value(f"{MAXPOW_1}.SchdSt.stVal") == 1
    assert h.engine.operate(f"{MAXPOW_1}.EnaReq", True, False, DSO) is ACCEPTED
    assert h.engine.operate(f"{MAXPOW_1}.DsaReq", True, False, MARKET) is ACCEPTED  # stopping uses no band
    assert "has no rights" in _denied(h.engine.operate(f"{MAXPOW_4}.EnaReq", True, False, MARKET))


async def test_rule_9_a_configured_actor_without_rights_may_only_read(db: Path) -> None:
    h = _engine(db)
    _denied(h.engine.write(f"{MAXPOW_1}.SchdPrio.setVal", 1, READER))
    _denied(h.engine.operate(f"{MAXPOW_1}.DsaReq", True, False, READER))
    assert h.engine.read(f"{MAXPOW_1}.SchdPrio.setVal") is not None


async def test_rule_9_unnamed_actors_keep_the_unrestricted_behaviour(db: Path) -> None:
    h = _engine(db)
    assert h.engine.write(f"{MAXPOW_4}.SchdPrio.setVal", 1000, ANONYMOUS) is ACCEPTED


async def test_rule_9_locks_still_hold_for_an_actor_with_every_right(db: Path) -> None:
    h = _engine(db)
    assert "is locked" in _denied(h.engine.write(f"{ln('MaxPow_Res_FSCH01')}.SchdPrio.setVal", 1, DSO))
