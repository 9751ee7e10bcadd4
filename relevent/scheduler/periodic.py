"""Calendar arithmetic of periodic start times (`StrTmNN.setCal`), always in UTC with seconds zero.

Supported: occType Time with occPer Hour (`mn`), Day (`hr`, `mn`), Week (`weekDay`, `hr`, `mn`) and
Month (`day`, `hr`, `mn`; months without that day are skipped). Everything else is "unsupported" and an
enable reports SchdEnaErr 6.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from relevent.scheduler.enums import SclEnum
from relevent.scheduler.values import Timestamp

_HOUR = 3600
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
# 1970-01-05T00:00:00Z was the first Monday of the epoch.
_FIRST_MONDAY = 4 * _DAY


class OccurrenceKind(SclEnum):
    """`CalendarTime.occType` (only TIME is supported)."""

    TIME = 0, "Time"
    WEEK_DAY = 1, "WeekDay"
    WEEK_OF_YEAR = 2, "WeekOfYear"
    DAY_OF_MONTH = 3, "DayOfMonth"
    DAY_OF_YEAR = 4, "DayOfYear"


class Period(SclEnum):
    """`CalendarTime.occPer` (PeriodKind)."""

    HOUR = 0, "Hour"
    DAY = 1, "Day"
    WEEK = 2, "Week"
    MONTH = 3, "Month"
    YEAR = 4, "Year"


class Weekday(SclEnum):
    """`CalendarTime.weekDay` (WeekdayKind)."""

    RESERVED = 0, "reserved"
    MONDAY = 1, "Monday"
    TUESDAY = 2, "Tuesday"
    WEDNESDAY = 3, "Wednesday"
    THURSDAY = 4, "Thursday"
    FRIDAY = 5, "Friday"
    SATURDAY = 6, "Saturday"
    SUNDAY = 7, "Sunday"


# The shortest gap between two occurrences of each period; a run longer than that would overlap itself.
SHORTEST_PERIOD: dict[Period, float] = {
    Period.HOUR: _HOUR,
    Period.DAY: _DAY,
    Period.WEEK: _WEEK,
    Period.MONTH: 28 * _DAY,
}


@dataclass(frozen=True)
class CalendarTime:
    """The SCL `CalendarTime` struct; enum fields hold their ordinal (`weekDay`: a `Weekday`)."""

    occ: int = 0
    occ_type: int = OccurrenceKind.TIME
    occ_per: int = Period.HOUR
    week_day: int = 0
    month: int = 0
    day: int = 0
    hr: int = 0
    mn: int = 0


# SCL attribute name -> (dataclass field, largest value the SCL basic type holds).
CALENDAR_FIELDS: dict[str, tuple[str, int]] = {
    "occ": ("occ", 0xFFFF),
    "occType": ("occ_type", 0x7FFFFFFF),
    "occPer": ("occ_per", 0x7FFFFFFF),
    "weekDay": ("week_day", 0x7FFFFFFF),
    "month": ("month", 0x7FFFFFFF),
    "day": ("day", 0xFF),
    "hr": ("hr", 0xFF),
    "mn": ("mn", 0xFF),
}


def calendar_problem(cal: CalendarTime) -> str | None:
    """Return why `cal` is unsupported or inconsistent, or None when occurrences can be computed."""
    if cal.occ_type != OccurrenceKind.TIME:
        return f"occType {cal.occ_type} is not supported (only Time)"
    if cal.occ_per not in SHORTEST_PERIOD:
        return f"occPer {cal.occ_per} is not supported (Hour, Day, Week, Month)"
    period = Period(cal.occ_per)
    checks = [(cal.mn <= 59, "mn must be 0..59")]
    if period is not Period.HOUR:
        checks.append((cal.hr <= 23, "hr must be 0..23"))
    if period is Period.WEEK:
        checks.append((Weekday.MONDAY <= cal.week_day <= Weekday.SUNDAY, "weekDay must be Monday..Sunday"))
    if period is Period.MONTH:
        checks.append((1 <= cal.day <= 31, "day must be 1..31"))
    return next((message for ok, message in checks if not ok), None)


def occurrence_after(cal: CalendarTime, t: Timestamp) -> Timestamp:
    """Return the first occurrence of `cal` strictly after `t` (`cal` must be supported)."""
    period = Period(cal.occ_per)
    if period is Period.MONTH:
        return _month_occurrence(cal, t, forward=True)
    size, phase = _fixed_period(cal, period)
    return phase + (math.floor((t - phase) / size) + 1) * size


def occurrence_at_or_before(cal: CalendarTime, t: Timestamp) -> Timestamp:
    """Return the last occurrence of `cal` at or before `t` (`cal` must be supported)."""
    period = Period(cal.occ_per)
    if period is Period.MONTH:
        return _month_occurrence(cal, t, forward=False)
    size, phase = _fixed_period(cal, period)
    return phase + math.floor((t - phase) / size) * size


def _fixed_period(cal: CalendarTime, period: Period) -> tuple[int, int]:
    """Return (period length, offset of one occurrence from the epoch) for Hour, Day and Week."""
    if period is Period.HOUR:
        return _HOUR, cal.mn * 60
    time_of_day = cal.hr * _HOUR + cal.mn * 60
    if period is Period.DAY:
        return _DAY, time_of_day
    return _WEEK, (_FIRST_MONDAY + (cal.week_day - Weekday.MONDAY) * _DAY + time_of_day) % _WEEK


def _month_occurrence(cal: CalendarTime, t: Timestamp, *, forward: bool) -> Timestamp:
    moment = datetime.fromtimestamp(t, UTC)
    year, month = moment.year, moment.month
    step = 1 if forward else -1
    # Every month is visited at most once per 12 steps; day 29..31 exist in at least 7 months a year.
    while True:
        if cal.day <= calendar.monthrange(year, month)[1]:
            candidate = datetime(year, month, cal.day, cal.hr, cal.mn, tzinfo=UTC).timestamp()
            if (candidate > t) if forward else (candidate <= t):
                return candidate
        month += step
        if month == 13:
            year, month = year + 1, 1
        elif month == 0:
            year, month = year - 1, 12
