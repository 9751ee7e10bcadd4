"""Typed reads of the core (`Slots`): states, outputs with source and priority, and their changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted, Actor
from relevent.scheduler.controller import ControllerOutput
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.slots import Change, Slots, StateChanged

from .factory import BASE, ln, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")
LOCAL = Actor("local", "trigger:startup")


async def test_state_output_and_their_changes_are_typed(db: Path) -> None:
    h = start_engine(small_spec(2), db)
    slots = Slots(h.engine)
    changes: list[Change] = []
    slots.subscribe(changes.append)
    h.program(S1, values=[5.0], intv=60, prio=42, starts=[BASE + 30])
    assert slots.state("@Control/F_FSCH01") is SchdSt.READY
    assert slots.state("@Control/Nope_FSCH01") is None
    await h.sleep_until(BASE + 31)
    assert slots.state(S1) is SchdSt.RUNNING
    assert slots.output(FSCC) == ControllerOutput(5.0, S1, 42)
    assert changes == [
        StateChanged(S1, SchdSt.READY, BASE),
        OutputChanged(FSCC, 5.0, S1, 42, BASE + 30),
        StateChanged(S1, SchdSt.RUNNING, BASE + 30),
    ]


async def test_start_now_runs_a_programmed_schedule_from_this_second_and_stop_ends_it(db: Path) -> None:
    h = start_engine(small_spec(2), db)
    h.program(S1, values=[5.0], intv=600, prio=42, starts=[BASE + 3600], enable=False)
    slots = Slots(h.engine)
    await h.sleep_until(BASE + 7.5)
    assert isinstance(slots.start_now(S1, h.clock.now(), LOCAL), Accepted)
    assert (slots.state(S1), h.value(f"{S1}.ActStrTm.stVal")) == (SchdSt.RUNNING, BASE + 7)
    assert isinstance(slots.stop(S1, LOCAL), Accepted)
    assert slots.state(S1) is SchdSt.NOT_READY

