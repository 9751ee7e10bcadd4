"""Property tests: the engine against a brute-force reading of the rules, and against its own forecast."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import looptime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relevent.scheduler.commands import Accepted
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.schedule import ScheduleParams
from relevent.scheduler.starts import StartTime

from .factory import BASE, ln, small_spec
from .harness import Harness, start_engine

T = TypeVar("T")
FSCC = ln("F_FSCC1")
RESERVE = ln("F_Res_FSCH01")
HORIZON = 900.0
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Program:
    position: int
    prio: int
    values: tuple[float, ...]
    intv: int
    starts: tuple[int, ...]  # seconds after BASE
    reuse: bool

    @property
    def ref(self) -> str:
        return ln(f"F_FSCH{self.position + 1:02d}")


@dataclass(frozen=True)
class Scenario:
    programs: tuple[Program, ...]
    reserve: bool


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    programs = []
    for position in range(draw(st.integers(1, 5))):
        entries = draw(st.integers(1, 4))
        programs.append(
            Program(
                position=position,
                prio=draw(st.integers(0, 3)),  # few priorities: ties are the interesting cases
                values=tuple(
                    draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=entries, max_size=entries))
                ),
                intv=draw(st.sampled_from([5, 10, 30, 60])),
                starts=tuple(draw(st.lists(st.integers(1, 500), min_size=1, max_size=3))),
                reuse=draw(st.booleans()),
            )
        )
    return Scenario(tuple(programs), draw(st.booleans()))


def brute_force_output(scenario: Scenario, t: float) -> tuple[float | None, str | None, int | None]:
    """The rules read literally: who runs at `t`, with which value, and who wins."""
    running: list[tuple[tuple[int, float, int], float, str]] = []
    for program in scenario.programs:
        duration = len(program.values) * program.intv
        began = [BASE + s for s in program.starts if BASE + s <= t]
        if began and t < max(began) + duration:  # the latest start owns the run
            start = max(began)
            entry = int((t - start) // program.intv)
            running.append(((program.prio, start, -program.position), program.values[entry], program.ref))
    if scenario.reserve:  # hourly, one entry of 3600 s, priority 0, last in the list
        running.append(((0, BASE, -99), 0.0, RESERVE))
    if not running:
        return None, None, None
    key, value, source = max(running)
    return value, source, key[0]


def run_on_fake_time(
    scenario: Scenario, body: Callable[[Harness], Awaitable[T]], *, count: int = 5, slots: int = 10
) -> T:
    """Program the scenario into `count` schedules of `slots` values, then run `body` on fake time."""

    async def main() -> T:
        with tempfile.TemporaryDirectory() as folder:
            model = small_spec(count=count, slots=slots, reserve=scenario.reserve)
            h = start_engine(model, Path(folder) / "s.sqlite")
            for program in scenario.programs:
                result = h.program(
                    program.ref,
                    values=program.values,
                    intv=program.intv,
                    prio=program.prio,
                    starts=[BASE + s for s in program.starts],
                    reuse=program.reuse,
                )
                assert isinstance(result, Accepted), result
            try:
                return await body(h)
            finally:
                h.stop()

    loop = looptime.new_event_loop(start=0)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def instants(scenario: Scenario) -> list[float]:
    """Every start, boundary and end, and the middle of every gap between them."""
    points = {BASE, BASE + HORIZON}
    for program in scenario.programs:
        for s in program.starts:
            points.update(BASE + s + k * program.intv for k in range(len(program.values) + 1))
    ordered = sorted(p for p in points if p <= BASE + HORIZON)
    return sorted({*ordered, *((a + b) / 2 for a, b in itertools.pairwise(ordered))})


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_output_at_any_instant_equals_brute_force(scenario: Scenario) -> None:
    async def body(h: Harness) -> list[tuple[float, tuple[float | None, str | None, int | None]]]:
        initial = h.engine.output(FSCC)
        assert initial is not None
        await h.sleep_until(BASE + HORIZON)
        # Every output event is emitted at its nominal instant (the final timer aims 10 us early).
        emitted = [(at, e.timestamp) for at, e in h.recorder.events if isinstance(e, OutputChanged)]
        assert all(abs(at - nominal) < 1e-4 for at, nominal in emitted)
        changes = [(BASE, (initial.value, initial.source, initial.priority))]
        changes += [(o.timestamp, (o.value, o.source, o.priority)) for o in h.recorder.outputs(FSCC)]
        return changes

    changes = run_on_fake_time(scenario, body)
    for t in instants(scenario):
        engine_says = next(output for at, output in reversed(changes) if at <= t)
        assert engine_says == brute_force_output(scenario, t), t - BASE
    # And only on change: no two consecutive events say the same.
    assert all(a[1] != b[1] for a, b in itertools.pairwise(changes))


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_forecast_equals_what_the_engine_later_emits(scenario: Scenario) -> None:
    async def body(h: Harness) -> tuple[list[ForecastPoint], list[ForecastPoint]]:
        predicted = h.engine.forecast(FSCC, BASE, BASE + HORIZON)
        initial = h.engine.output(FSCC)
        assert initial is not None
        await h.sleep_until(BASE + HORIZON)
        emitted = [ForecastPoint(BASE, initial.value, initial.source, initial.priority)]
        for o in h.recorder.outputs(FSCC):
            if o.value != emitted[-1].value:  # the forecast merges equal consecutive values
                emitted.append(ForecastPoint(o.timestamp, o.value, o.source, o.priority))
        return predicted, emitted

    predicted, emitted = run_on_fake_time(scenario, body)
    assert predicted == emitted


start_times = st.builds(StartTime, st.sampled_from([0.0, BASE, BASE + 60.0]))


@given(st.lists(start_times, min_size=1, max_size=16), st.data())
def test_property_set_starts_carried_over_a_start_time_change_equal_a_fresh_scan(
    starts: list[StartTime], data: st.DataObject
) -> None:
    params = ScheduleParams((1.0,), num_entr=1, schd_intv=1, schd_prio=0, starts=tuple(starts), reuse=False)
    assert params.set_starts == tuple((i, s) for i, s in enumerate(starts) if s.is_set)  # computed: carried
    slot = data.draw(st.integers(0, len(starts) - 1))
    changed = params.with_start(slot, data.draw(start_times))
    fresh = ScheduleParams(changed.values, 1, 1, 0, changed.starts, reuse=False)
    assert changed.set_starts == fresh.set_starts


def test_fake_time_runner_runs_on_fake_time() -> None:
    scenario = Scenario((Program(0, 1, (1.0,), 60, (100,), reuse=False),), reserve=False)

    async def body(h: Harness) -> float:
        await asyncio.sleep(3600)
        return h.clock.now() - BASE

    assert run_on_fake_time(scenario, body) == 3600
