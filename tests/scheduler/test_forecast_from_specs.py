"""The forecast a client computes from parameters read back equals the engine's own (spec section 5)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from relevent.scheduler.forecast import forecast_from_specs
from relevent.scheduler.spec import ScheduleSpec, StartTimeSpec
from relevent.scheduler.starts import StartTime

from .factory import BASE, ln, small_spec
from .harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2, RES = ln("F_FSCH01"), ln("F_FSCH02"), ln("F_Res_FSCH01")
FSCC = ln("F_FSCC1")


def _read_back(h: Harness, spec: ScheduleSpec) -> ScheduleSpec:
    """The spec with the parameters a client reads over MMS as its initial values."""
    ref = spec.ref

    def value(name: str) -> float:
        read = h.value(f"{ref}.{name}")
        assert isinstance(read, float)
        return read

    def number(name: str) -> int:
        read = h.value(f"{ref}.{name}.setVal")
        assert isinstance(read, int)
        return read

    starts = tuple(
        StartTimeSpec(start.name, StartTime(value(f"{start.name}.setTm"), start.initial.cal))
        for start in spec.start_times
    )
    return replace(
        spec,
        values=tuple(value(f"{name}.{spec.kind.value_da}") for name in spec.value_names),
        num_entr=number("NumEntr"),
        schd_intv=number("SchdIntv"),
        schd_prio=number("SchdPrio"),
        reuse=h.value(f"{ref}.SchdReuse.setVal") is True,
        start_times=starts,
    )


async def test_forecast_from_read_back_parameters_matches_the_engine_during_a_run(db: Path) -> None:
    model = small_spec(reserve=True)
    h = start_engine(model, db)
    h.program(S1, values=[5.0, 7.0, 0.0, 6.0], intv=60, prio=10, starts=[BASE + 100, BASE + 1000])
    h.program(S2, values=[9.0], intv=30, prio=20, starts=[BASE + 280])
    h.program(ln("F_FSCH03"), values=[4.0], intv=30, prio=30, starts=[BASE + 400], enable=False)
    await h.sleep_until(BASE + 170)  # S1 runs, in its second entry
    enabled = {s.ref for s in model.schedules if h.value(f"{s.ref}.SchdSt.stVal") in (3, 4)}
    assert enabled == {S1, S2, RES}

    specs = [_read_back(h, spec) for spec in model.schedules]
    now = h.clock.now()
    expected = h.engine.forecast(FSCC, now, now + 3000)
    assert forecast_from_specs(model.controllers[0], specs, enabled, now, now + 3000) == expected
    assert [p.value for p in expected] == [7.0, 0.0, 9.0, 6.0, 0.0, 5.0, 7.0, 0.0, 6.0, 0.0]
