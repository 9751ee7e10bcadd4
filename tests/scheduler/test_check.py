"""`Engine.check`: a whole request tried out by the engine's own rules, changing nothing (issue 17 item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import ACCEPTED, Operate, Rejected, RejectReason, Write
from relevent.scheduler.policy import Grant, Rights

from .factory import BASE, ln, small_spec
from .harness import SCADA, Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
RES = ln("F_Res_FSCH01")


def _unchanged_after(h: Harness, steps: list[Write | Operate]) -> list[object]:
    """Check `steps`; assert that nothing was published, audited or changed; return the answers."""
    before = h.engine.snapshot()
    h.recorder.clear()
    h.recorder.commands.clear()
    results: list[object] = list(h.engine.check(steps, SCADA))
    assert (h.recorder.events, h.recorder.commands) == ([], [])
    assert h.engine.snapshot() == before
    return results


def _program(interval: int, start: float) -> list[Write | Operate]:
    """One value, `interval`, `start`, then enable: what `relevent-ctl write ... --enable` asks of S1."""
    return [
        Write(f"{S1}.ValASG001.setMag.f", 1.0),
        Write(f"{S1}.NumEntr.setVal", 1),
        Write(f"{S1}.SchdIntv.setVal", interval),
        Write(f"{S1}.StrTm01.setTm", start),
        Operate(f"{S1}.EnaReq", ctl_val=True),
    ]


def _refusal(result: object) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


async def test_a_locked_reserve_priority_refuses_the_request_after_its_accepted_values(db: Path) -> None:
    h = start_engine(small_spec(reserve=True), db)
    request: list[Write | Operate] = [
        Write(f"{RES}.ValASG001.setMag.f", 1.0),
        Write(f"{RES}.SchdPrio.setVal", 50),
    ]
    results = _unchanged_after(h, request)
    assert results[0] is ACCEPTED
    refused = _refusal(results[1])
    assert (refused.reason, refused.message) == (RejectReason.ACCESS_DENIED, f"SchdPrio of {RES} is locked")
    assert len(results) == 2


async def test_an_invalid_interval_refuses_the_enable_with_schd_ena_err_3_in_words(db: Path) -> None:
    h = start_engine(small_spec(), db)
    results = _unchanged_after(h, _program(interval=0, start=BASE + 5))
    assert results[:4] == [ACCEPTED] * 4
    refused = _refusal(results[4])
    assert (refused.reason, refused.schd_ena_err) == (RejectReason.VALUE_INVALID, 3)
    assert refused.message == f"{S1} cannot be enabled: missing valid SchdIntv (it must be positive)"
    assert h.value(f"{S1}.SchdEnaErr.stVal") == 1  # a real failed enable would have set 3


async def test_each_step_sees_the_ones_before_it_and_the_first_refusal_ends_the_answers(db: Path) -> None:
    h = start_engine(small_spec(), db)
    request = _program(interval=60, start=BASE + 600)
    assert _unchanged_after(h, request) == [ACCEPTED] * 5
    assert h.value(f"{S1}.SchdSt.stVal") == 1  # still not ready: nothing was enabled

    over = _unchanged_after(h, [Write(f"{S1}.StrTm01.setTm", BASE - 600), *request])
    assert len(over) == 1
    assert _refusal(over[0]).message == f"{S1}.StrTm01.setTm: the run starting then is already over"

    unknown = _unchanged_after(h, [Write(ln("F_FSCC1.Schd01.setSrcRef"), "")])
    assert _refusal(unknown[0]).reason is RejectReason.OBJECT_UNDEFINED


async def test_the_actor_s_rights_apply_as_to_its_commands(db: Path) -> None:
    rights = Rights({SCADA.user or "": (Grant(schedules=(S1,), max_priority=20),)})
    h = start_engine(small_spec(), db, rights=rights)
    results = _unchanged_after(h, [Write(f"{S1}.SchdPrio.setVal", 21)])
    assert _refusal(results[0]).message == f"actor 'operator' may not use priority 21 on {S1}"
    assert _refusal(_unchanged_after(h, [Write(ln("F_FSCH02.SchdPrio.setVal"), 1)])[0]).reason is (
        RejectReason.ACCESS_DENIED
    )
