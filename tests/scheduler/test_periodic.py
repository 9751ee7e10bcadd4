"""Calendar arithmetic of periodic start times: UTC, seconds zero, every supported period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relevent.scheduler.periodic import (
    CalendarTime,
    Period,
    calendar_problem,
    occurrence_after,
    occurrence_at_or_before,
)
from relevent.scheduler.starts import StartTime


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("cal", "after", "expected"),
    [
        (CalendarTime(occ_per=Period.HOUR, mn=0), ts(2024, 1, 1), ts(2024, 1, 1, 1, 0)),
        (CalendarTime(occ_per=Period.HOUR, mn=45), ts(2024, 1, 1, 0, 45) + 30, ts(2024, 1, 1, 1, 45)),
        (CalendarTime(occ_per=Period.DAY, hr=23, mn=59), ts(2024, 2, 28, 23, 59), ts(2024, 2, 29, 23, 59)),
        (CalendarTime(occ_per=Period.WEEK, week_day=1), ts(2024, 1, 1, 0, 0), ts(2024, 1, 8)),  # Mondays
        (CalendarTime(occ_per=Period.WEEK, week_day=7, hr=12), ts(2024, 1, 1), ts(2024, 1, 7, 12)),  # Sunday
        (
            CalendarTime(occ_per=Period.MONTH, day=31),
            ts(2024, 1, 31, 0, 0),
            ts(2024, 3, 31),
        ),  # skips February
        (CalendarTime(occ_per=Period.MONTH, day=29), ts(2023, 1, 30), ts(2023, 3, 29)),  # no 29 Feb in 2023
        (CalendarTime(occ_per=Period.MONTH, day=1, hr=6), ts(2024, 12, 15), ts(2025, 1, 1, 6)),
    ],
)
def test_occurrence_after(cal: CalendarTime, after: float, expected: float) -> None:
    assert occurrence_after(cal, after) == expected


@pytest.mark.parametrize(
    "cal",
    [
        CalendarTime(occ_per=Period.HOUR, mn=17),
        CalendarTime(occ_per=Period.DAY, hr=3, mn=5),
        CalendarTime(occ_per=Period.WEEK, week_day=5, hr=9),
        CalendarTime(occ_per=Period.MONTH, day=30, hr=1, mn=1),
    ],
)
@settings(max_examples=50, deadline=None)
@given(t=st.floats(min_value=ts(2000, 1, 1), max_value=ts(2100, 1, 1)))
def test_occurrences_bracket_any_instant_on_whole_minutes(cal: CalendarTime, t: float) -> None:
    before, after = occurrence_at_or_before(cal, t), occurrence_after(cal, t)
    assert before <= t < after
    assert occurrence_after(cal, before) == after
    for occurrence in (before, after):
        moment = datetime.fromtimestamp(occurrence, UTC)
        assert (moment.second, moment.microsecond, moment.minute) == (0, 0, cal.mn)


def test_calendar_problem_accepts_supported_calendars() -> None:
    assert calendar_problem(CalendarTime()) is None
    assert calendar_problem(CalendarTime(occ_per=Period.WEEK, week_day=7, hr=23, mn=59)) is None
    assert calendar_problem(CalendarTime(occ_per=Period.MONTH, day=31)) is None


def test_periodic_start_time_begins_at_set_tm() -> None:
    hourly = StartTime(ts(2024, 1, 1, 10, 30), CalendarTime())
    assert hourly.next_after(ts(2024, 1, 1)) == ts(2024, 1, 1, 11)
    assert hourly.latest_at_or_before(ts(2024, 1, 1, 10, 59)) is None
    assert hourly.latest_at_or_before(ts(2024, 1, 1, 12, 1)) == ts(2024, 1, 1, 12)
    on_the_dot = StartTime(ts(2024, 1, 1, 10), CalendarTime())
    assert on_the_dot.next_after(ts(2024, 1, 1)) == ts(2024, 1, 1, 10)


def test_cleared_start_time_never_occurs() -> None:
    cleared = StartTime(ts(2024, 1, 1), CalendarTime()).cleared()
    assert cleared.set_tm == 0.0
    assert cleared.cal == CalendarTime()
    assert cleared.next_after(0.0) is None
    assert cleared.latest_at_or_before(ts(2030, 1, 1)) is None
