"""Property: intents (placed, replaced by key, chained, cancelled) mixed with direct MMS writes give the
outputs the brute-force reading of the rules gives, each intent's links read as the schedules they are."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from relevent.scheduler.commands import Actor
from relevent.scheduler.intents import Intents
from relevent.scheduler.verdicts import (
    NOW,
    ActorSlots,
    Cancelled,
    Intent,
    IntentFunction,
    Placed,
    RefusalReason,
    Refused,
)

from .factory import BASE, ln
from .harness import Harness
from .test_properties import (
    FSCC,
    HORIZON,
    PROPERTY_SETTINGS,
    Program,
    Scenario,
    brute_force_output,
    instants,
    run_on_fake_time,
    scenarios,
)

ACTOR = Actor("iec104", "192.0.2.7:2404", "dso")
SLOTS = tuple(ln(f"F_FSCH0{i}") for i in (6, 7, 8))  # after the five that MMS writes
CAPACITY = 4  # value slots of each schedule of the mixed model
BAND = (0, 3)  # the MMS programs' priorities too: ties between the two doors are the interesting cases


@dataclass(frozen=True)
class Step:
    key: str
    cancel: bool
    values: tuple[float, ...]
    intv: int
    start: int | None  # seconds after BASE; None: NOW
    rel: int


steps = st.builds(
    Step,
    key=st.sampled_from(["a", "b"]),  # few keys: overwrites and cancels of a placed key happen
    cancel=st.sampled_from([False, False, True]),
    values=st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=1, max_size=8).map(tuple),
    intv=st.sampled_from([5, 10, 30, 60]),
    start=st.one_of(st.none(), st.integers(1, 500)),
    rel=st.integers(-1, 4),
)


def links(step: Step, slots: tuple[str, ...]) -> list[Program]:
    """The schedules a placed intent is, as the oracle reads programs."""
    start = 0 if step.start is None else step.start  # NOW at BASE is BASE's whole second
    programs = []
    for index, slot in enumerate(slots):
        values = step.values[index * CAPACITY : (index + 1) * CAPACITY]
        position = int(slot[-2:]) - 1
        prio = BAND[0] + max(0, min(step.rel, BAND[1] - BAND[0]))
        programs.append(
            Program(position, prio, values, step.intv, (start + index * CAPACITY * step.intv,), False)
        )
    return programs


@PROPERTY_SETTINGS
@given(scenarios(), st.lists(steps, min_size=1, max_size=5))
def test_property_intents_and_mms_writes_mixed_equal_brute_force(
    scenario: Scenario, plan: list[Step]
) -> None:
    placed: dict[str, list[Program]] = {}

    async def body(h: Harness) -> list[tuple[float, tuple[float | None, str | None, int | None]]]:
        api = Intents(h.engine, {"dso": ActorSlots(BAND, SLOTS)}, now=h.clock.now)
        for step in plan:
            if step.cancel:
                cancelled = api.cancel(ACTOR, step.key)
                assert isinstance(cancelled, Cancelled)
                placed.pop(step.key, None)
                continue
            start = NOW if step.start is None else BASE + step.start
            verdict = api.place(Intent(ACTOR, step.key, FSCC, IntentFunction.ACT_POW, start, step.intv,
                                       step.values, step.rel))  # fmt: skip
            if isinstance(verdict, Refused):
                assert verdict.reason is RefusalReason.NO_FREE_SLOT, verdict
                continue
            assert isinstance(verdict, Placed)
            assert "".join(SLOTS).find("".join(verdict.slots)) >= 0  # consecutive slots of the set
            placed[step.key] = links(step, verdict.slots)
        initial = h.engine.output(FSCC)
        assert initial is not None
        await h.sleep_until(BASE + HORIZON)
        changes = [(BASE, (initial.value, initial.source, initial.priority))]
        changes += [(o.timestamp, (o.value, o.source, o.priority)) for o in h.recorder.outputs(FSCC)]
        return changes

    changes = run_on_fake_time(scenario, body, count=len(SLOTS) + 5, slots=CAPACITY)
    mixed = Scenario((*scenario.programs, *itertools.chain(*placed.values())), scenario.reserve)
    for t in instants(mixed):
        engine_says = next(output for at, output in reversed(changes) if at <= t)
        assert engine_says == brute_force_output(mixed, t), t - BASE
