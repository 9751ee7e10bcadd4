"""Spec section 4: READY -> RUNNING -> READY/NOT_READY, entries, start-time consumption, periodic starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted
from relevent.scheduler.events import AttributeChanged, OutputChanged
from relevent.scheduler.periodic import CalendarTime, Period
from relevent.scheduler.timeline import Timeline
from relevent.timing import STATUS_DELAY_S

from .factory import BASE, ln, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")


async def test_rule_4_ready_to_running_exactly_at_nominal_start(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 100.25])
    running = await h.recorder.wait_for(
        lambda e: isinstance(e, AttributeChanged) and e.ref == f"{S1}.SchdSt.stVal" and e.value == 4,
        limit=200,
    )
    assert running.timestamp == BASE + 100.25
    # emitted right after the output event (which is exact: test_timing), see STATUS_DELAY_S
    assert h.clock.now() == pytest.approx(BASE + 100.25 + STATUS_DELAY_S, abs=1e-4)
    assert h.value(f"{S1}.ActStrTm.stVal") == BASE + 100.25
    assert h.value(f"{S1}.SchdEntr.stVal") == 1
    assert h.read(f"{S1}.ValMV.mag.f") == h.read(f"{S1}.ValMV.mag.f").__class__(1.0, True, BASE + 100.25)
    assert not h.read(f"{S1}.NxtStrTm.stVal").quality_good  # no following start


async def test_rule_4_nxtstrtm_is_the_following_start_while_running(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 10, BASE + 500], reuse=True)
    await h.sleep_until(BASE + 20)
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 500
    assert h.read(f"{S1}.NxtStrTm.stVal").quality_good


async def test_rule_4_each_entry_boundary_updates_value_with_nominal_time(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 1.0, 3.0], intv=30, prio=1, starts=[BASE + 10])
    await h.sleep_until(BASE + 200)
    changes = [(c.timestamp - BASE, c.value, c.quality_good) for c in h.recorder.changes(f"{S1}.ValMV.mag.f")]
    # Equal consecutive values still update t (a new entry); the end invalidates the quality.
    assert changes == [(10, 1.0, True), (40, 1.0, True), (70, 3.0, True), (100, 3.0, False)]
    entries = [(c.timestamp - BASE, c.value) for c in h.recorder.changes(f"{S1}.SchdEntr.stVal")]
    assert entries == [(10, 1), (40, 2), (70, 3), (100, 0)]


async def test_rule_4_no_drift_over_many_entries(db: Path) -> None:
    h = start_engine(small_spec(slots=1000), db)
    values = [float(i % 7) for i in range(1000)]
    h.program(S1, values=values, intv=1, prio=1, starts=[BASE + 0.1])
    await h.sleep_until(BASE + 1100)
    changes = h.recorder.changes(f"{S1}.SchdEntr.stVal")
    assert [c.value for c in changes] == [*range(1, 1001), 0]
    assert [c.timestamp for c in changes] == [BASE + 0.1 + i for i in range(1001)]


async def test_rule_4_late_join_at_the_right_entry(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0, 3.0], intv=60, prio=1, starts=[BASE + 600], enable=False)
    await h.sleep_until(BASE + 600 + 130)
    assert isinstance(h.enable(S1), Accepted)
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    assert h.value(f"{S1}.SchdEntr.stVal") == 3
    assert h.read(f"{S1}.ValMV.mag.f").timestamp == BASE + 720  # nominal boundary of entry 3
    assert h.value(f"{S1}.ActStrTm.stVal") == BASE + 600
    assert h.recorder.timeline(FSCC) == [(730, 3.0, "F_FSCH01")]
    await h.sleep_until(BASE + 800)
    assert h.recorder.timeline(FSCC)[-1] == (780, None, None)


async def test_rule_4_reuse_false_consumes_start_time_and_goes_ready_for_the_next(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 10, BASE + 300])
    await h.sleep_until(BASE + 100)
    assert h.value(f"{S1}.StrTm01.setTm") == 0.0
    assert h.value(f"{S1}.StrTm02.setTm") == BASE + 300
    assert h.value(f"{S1}.SchdSt.stVal") == 3
    assert h.value(f"{S1}.NxtStrTm.stVal") == BASE + 300
    await h.sleep_until(BASE + 400)
    assert h.value(f"{S1}.StrTm02.setTm") == 0.0
    assert h.value(f"{S1}.SchdSt.stVal") == 1
    assert not h.read(f"{S1}.ValMV.mag.f").quality_good


async def test_rule_4_reuse_true_keeps_start_time_and_ends_not_ready(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 10], reuse=True)
    await h.sleep_until(BASE + 100)
    assert h.value(f"{S1}.StrTm01.setTm") == BASE + 10
    assert h.value(f"{S1}.SchdSt.stVal") == 1


async def test_rule_4_a_start_during_a_run_takes_over_at_entry_one(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0, 3.0], intv=60, prio=1, starts=[BASE + 10, BASE + 100], reuse=True)
    await h.sleep_until(BASE + 400)
    assert h.recorder.timeline(FSCC) == [
        (10, 1.0, "F_FSCH01"),
        (70, 2.0, "F_FSCH01"),
        (100, 1.0, "F_FSCH01"),
        (160, 2.0, "F_FSCH01"),
        (220, 3.0, "F_FSCH01"),
        (280, None, None),
    ]


@pytest.mark.parametrize(
    ("cal", "expected"),
    [
        (CalendarTime(occ_per=Period.HOUR, mn=15), datetime(2024, 1, 1, 0, 15, tzinfo=UTC)),
        (CalendarTime(occ_per=Period.DAY, hr=13, mn=5), datetime(2024, 1, 1, 13, 5, tzinfo=UTC)),
        (CalendarTime(occ_per=Period.WEEK, week_day=3, hr=1), datetime(2024, 1, 3, 1, 0, tzinfo=UTC)),
        (CalendarTime(occ_per=Period.MONTH, day=31, hr=2), datetime(2024, 1, 31, 2, 0, tzinfo=UTC)),
    ],
)
async def test_rule_4_periodic_start_next_occurrence(db: Path, cal: CalendarTime, expected: datetime) -> None:
    h = start_engine(small_spec(periodic=True), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 1], reuse=True, enable=False)
    h.write(f"{S1}.StrTm01.setCal", cal)
    assert isinstance(h.enable(S1), Accepted)
    assert h.value(f"{S1}.NxtStrTm.stVal") == expected.timestamp()


async def test_rule_4_periodic_run_in_progress_is_joined(db: Path) -> None:
    h = start_engine(small_spec(periodic=True), db, base=BASE + 3600 + 1500)  # 01:25
    h.program(S1, values=[1.0, 2.0, 3.0], intv=1200, prio=1, starts=[BASE], reuse=True)  # hourly at :00
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    assert h.value(f"{S1}.SchdEntr.stVal") == 2
    assert h.value(f"{S1}.ActStrTm.stVal") == BASE + 3600


async def test_rule_4_consecutive_periods_join_without_gap(db: Path) -> None:
    h = start_engine(small_spec(periodic=True), db)
    h.program(S1, values=[1.0, 2.0], intv=1800, prio=1, starts=[BASE], reuse=True)
    await h.sleep_until(BASE + 3 * 3600 + 1)
    assert h.recorder.timeline(FSCC) == [
        (0, 1.0, "F_FSCH01"),
        *(
            (t, v, "F_FSCH01")
            for hour in range(3)
            for t, v in ((hour * 3600 + 1800, 2.0), (hour * 3600 + 3600, 1.0))
        ),
    ]
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    assert all(c.quality_good for c in h.recorder.changes(f"{S1}.ValMV.mag.f"))


async def test_rule_4_periodic_reuse_false_runs_once(db: Path) -> None:
    h = start_engine(small_spec(periodic=True), db)
    h.program(S1, values=[1.0], intv=600, prio=1, starts=[BASE + 1])
    await h.sleep_until(BASE + 3 * 3600)
    assert h.recorder.timeline(FSCC) == [(3600, 1.0, "F_FSCH01"), (4200, None, None)]
    assert h.value(f"{S1}.StrTm01.setTm") == 0.0
    assert h.value(f"{S1}.SchdSt.stVal") == 1


async def test_rule_4_start_time_required_state_is_never_entered(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 10])
    await h.sleep_until(BASE + 100)
    states = {c.value for c in h.recorder.changes(f"{S1}.SchdSt.stVal")}
    assert states == {3, 4, 1}


async def test_rule_4_timer_firing_early_still_processes_the_nominal_boundary(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0, 3.0], intv=10, prio=1, starts=[BASE + 10])
    # After arming, the wall clock runs 0.3 ms ahead: each timer fires "early" in wall terms.
    h.clock.offset = -0.0003
    await h.sleep_until(BASE + 60)
    assert h.recorder.timeline(FSCC) == [
        (10, 1.0, "F_FSCH01"),
        (20, 2.0, "F_FSCH01"),
        (30, 3.0, "F_FSCH01"),
        (40, None, None),
    ]


async def test_rule_4_late_timer_catches_up_every_boundary_in_order(db: Path) -> None:
    h = start_engine(small_spec(intv_unit=0.1), db)  # SchdIntv in tenths of a second
    h.program(S1, values=[1.0, 2.0, 3.0, 4.0], intv=1, prio=1, starts=[BASE + 10])
    h.clock.offset = 0.25  # the loop stalls once: the first timer wakes 250 ms after its nominal instant
    await h.sleep_until(BASE + 20)
    assert h.recorder.timeline(FSCC) == [
        (10, 1.0, "F_FSCH01"),
        (pytest.approx(10.1), 2.0, "F_FSCH01"),
        (pytest.approx(10.2), 3.0, "F_FSCH01"),
        (pytest.approx(10.3), 4.0, "F_FSCH01"),
        (pytest.approx(10.4), None, None),
    ]
    emitted_at = [at - BASE for at, e in h.recorder.events if e in h.recorder.outputs()]
    # 10.1 and 10.2 were caught up in the one late wake-up for 10; the next timers are on time again.
    assert emitted_at[0] == emitted_at[1] == emitted_at[2] > 10.2
    assert emitted_at[3:] == pytest.approx([10.3, 10.4], abs=1e-4)


async def test_rule_4_an_entry_boundary_emits_its_output_at_once_and_its_status_right_after(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 100.25])
    await h.sleep_until(BASE + 100.25 + STATUS_DELAY_S)
    h.recorder.clear()
    await h.sleep_until(BASE + 160.25 + STATUS_DELAY_S)  # past the second entry's boundary
    outputs = [t for t, e in h.recorder.events if isinstance(e, OutputChanged)]
    entries = [t for t, e in h.recorder.events if isinstance(e, AttributeChanged) and "SchdEntr" in e.ref]
    # the value first (device commands leave first), the status a moment later
    assert outputs == [pytest.approx(BASE + 160.25, abs=1e-4)]
    assert entries == [pytest.approx(BASE + 160.25 + STATUS_DELAY_S, abs=1e-4)]
    await h.sleep_until(BASE + 220.25 - STATUS_DELAY_S)  # the run ends at 220.25
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    await asyncio.sleep(STATUS_DELAY_S)
    assert h.value(f"{S1}.SchdSt.stVal") == 1  # a read at the instant sees its status, deferred or not


async def test_a_forecast_that_finds_an_instant_due_does_the_timers_work_outputs_first(db: Path) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 100.25])
    await h.sleep_until(BASE + 160.25 - 0.01)  # the second entry's timer has not run yet
    h.recorder.clear()
    h.clock.offset += 0.011  # wall time is past the boundary: a plan round's forecast gets there first
    forecasting_at = h.clock.now()
    h.engine.forecast(FSCC, forecasting_at, forecasting_at + 600)
    outputs = [(t, e.value) for t, e in h.recorder.events if isinstance(e, OutputChanged)]
    assert outputs == [(forecasting_at, 2.0)]  # the devices' command is due: at once
    assert h.recorder.changes(f"{S1}.SchdEntr.stVal") == []  # the status follows, as after the timer
    await asyncio.sleep(2 * STATUS_DELAY_S)  # the instant's own timer runs meanwhile and finds it done
    entry = f"{S1}.SchdEntr.stVal"
    changes = [(t, e) for t, e in h.recorder.events if isinstance(e, AttributeChanged)]
    entries = [(t, e.value) for t, e in changes if e.ref == entry]
    assert [value for _, value in entries] == [2]
    assert entries[0][0] == pytest.approx(forecasting_at + STATUS_DELAY_S, abs=1e-4)
    assert len(h.recorder.outputs()) == 1


async def test_forecasts_between_instants_scan_no_schedule(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = start_engine(small_spec(), db)
    h.program(S1, values=[1.0, 2.0], intv=60, prio=1, starts=[BASE + 100])
    await h.sleep_until(BASE + 130)
    now = h.clock.now()
    h.engine.forecast(FSCC, now, now + 600)  # computed once (on copies), then served from the cache
    scans = 0
    scan = Timeline.next_instant

    def counted(timeline: Timeline) -> float | None:
        nonlocal scans
        scans += 1
        return scan(timeline)

    monkeypatch.setattr(Timeline, "next_instant", counted)
    for _ in range(3):  # a status page asks per controller and tick: the armed instant says none is due
        assert [p.value for p in h.engine.forecast(FSCC, now, now + 600)] == [1.0, 2.0, None]
    assert scans == 0
    h.clock.offset += 40  # past the boundary at 160, its timer not run: the forecast does its work
    assert h.engine.forecast(FSCC, h.clock.now(), h.clock.now() + 600)[0].value == 2.0
    assert scans > 0


async def test_time_to_next_instant_counts_down_to_a_start_and_is_none_without_one(db: Path) -> None:
    h = start_engine(small_spec(), db)
    assert h.engine.time_to_next_instant() is None
    h.program(S1, values=[1.0], intv=60, prio=1, starts=[BASE + 100])
    assert h.engine.time_to_next_instant() == pytest.approx(BASE + 100 - h.clock.now())
    await h.sleep_until(BASE + 130)
    assert h.engine.time_to_next_instant() == pytest.approx(30)  # the run's end
