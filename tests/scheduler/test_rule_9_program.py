"""Spec section 9: a whole schedule written and enabled as one atomic step (`Engine.program`).

No entry boundary, reader or store sees half a schedule: one command, one store transaction, one audit
entry; a refused program changes nothing, so the schedule it would have replaced keeps running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relevent.scheduler.commands import ACCEPTED, Actor, Program, Rejected, RejectReason
from relevent.scheduler.policy import Lockable, SchedulePolicy

from .factory import BASE, ln, small_spec
from .harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")
EMS = Actor("mqtt-ems", "site/ems/request")
PRIO_LOCKED = SchedulePolicy(frozenset({Lockable.SCHD_PRIO}))
CONTROL_LOCKED = SchedulePolicy(control_locked=True)


def _running_one(db: Path) -> Harness:
    h = start_engine(small_spec(starts=3), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=10, starts=[BASE, BASE + 3600])
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    return h


async def test_rule_9_a_program_replaces_a_running_schedule_in_one_command(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = _running_one(db)
    await h.sleep_until(BASE + 30)
    h.recorder.clear()
    earlier = len(h.recorder.commands)
    commits: list[tuple[object, ...]] = []
    commit = h.store.commit

    def counted(*args: Any) -> None:
        commits.append(args)
        commit(*args)

    monkeypatch.setattr(h.store, "commit", counted)
    program = Program(values=(5.0, 6.0, 7.0), schd_intv=120, schd_prio=20, start=BASE + 30)
    assert h.engine.program(S1, program, EMS) is ACCEPTED
    assert len(commits) == 1  # one store transaction
    assert [(c.command, c.ref, c.old, c.new) for c in h.recorder.commands[earlier:]] == [
        ("program", S1, 4, 4)
    ]
    assert [h.value(f"{S1}.ValASG00{i}.setMag.f") for i in (1, 2, 3)] == [5.0, 6.0, 7.0]
    assert (h.value(f"{S1}.NumEntr.setVal"), h.value(f"{S1}.SchdIntv.setVal")) == (3, 120)
    assert (h.value(f"{S1}.StrTm01.setTm"), h.value(f"{S1}.StrTm02.setTm")) == (BASE + 30, 0.0)
    assert h.recorder.timeline(FSCC) == [(30, 5.0, "F_FSCH01")]  # one output change, the final one
    await h.sleep_until(BASE + 400)
    assert h.recorder.timeline(FSCC) == [(30, 5.0, "F_FSCH01"), (150, 6.0, "F_FSCH01"),
                                         (270, 7.0, "F_FSCH01"), (390, None, None)]  # fmt: skip


@pytest.mark.parametrize(
    ("program", "policy", "reason", "schd_ena_err"),
    [
        (Program((1e300,), 60, 20, BASE + 60), None, RejectReason.VALUE_INVALID, None),  # beyond FLOAT32
        (Program((float("nan"),), 60, 20, BASE + 60), None, RejectReason.VALUE_INVALID, 4),
        (Program((), 60, 20, BASE + 60), None, RejectReason.VALUE_INVALID, None),
        (Program((1.0,) * 11, 60, 20, BASE + 60), None, RejectReason.VALUE_INVALID, None),
        (Program((1.0,), 0, 20, BASE + 60), None, RejectReason.VALUE_INVALID, 3),
        (Program((1.0,), 60, 20, BASE - 60), None, RejectReason.VALUE_INVALID, 6),  # its run is over
        (Program((1.0,), 60, 20, BASE + 60), PRIO_LOCKED, RejectReason.ACCESS_DENIED, None),
        (Program((1.0,), 60, 20, BASE + 60), CONTROL_LOCKED, RejectReason.ACCESS_DENIED, None),
    ],
)
async def test_rule_9_a_refused_program_changes_nothing(
    db: Path, program: Program, policy: SchedulePolicy | None, reason: RejectReason, schd_ena_err: int | None
) -> None:
    h = _running_one(db)
    if policy is not None:
        h.engine._policies[S1] = policy  # locked once the running schedule is programmed
    before = h.engine.snapshot()
    result = h.engine.program(S1, program, EMS)
    assert isinstance(result, Rejected)
    assert (result.reason, result.schd_ena_err) == (reason, schd_ena_err)
    assert h.engine.snapshot() == before
    assert h.value(f"{S1}.SchdSt.stVal") == 4


async def test_rule_9_a_program_of_no_schedule_is_refused(db: Path) -> None:
    h = start_engine(small_spec(), db)
    result = h.engine.program(FSCC, Program((1.0,), 60, 1, BASE + 60), EMS)
    assert isinstance(result, Rejected)
    assert result.reason is RejectReason.OBJECT_UNDEFINED


@pytest.mark.parametrize("value", [1e300, -3.5e38, 10**400])
async def test_rule_2_a_value_beyond_float32_is_refused_without_crash(db: Path, value: float) -> None:
    h = start_engine(small_spec(), db)
    result = h.write(f"{S1}.ValASG001.setMag.f", value)
    assert isinstance(result, Rejected)
    assert result.reason is RejectReason.VALUE_INVALID
    assert h.value(f"{S1}.ValASG001.setMag.f") == 0.0
    assert h.write(f"{S1}.ValASG001.setMag.f", float("inf")) is ACCEPTED  # a "missing" value (code 4)
