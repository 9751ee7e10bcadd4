"""The EnumTypes of the default model: the scheduler's tables for the kinds it reads, else the standard's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from relevent.scheduler.enums import SclEnum
from relevent.scheduler.periodic import OccurrenceKind, Period, Weekday
from relevent.scheduler.schedule import EnaErr, SchdSt

if TYPE_CHECKING:
    from collections.abc import Mapping


def _enum(first: int, names: str) -> tuple[tuple[int, str], ...]:
    """Consecutive ordinals from `first` for the `|`-separated names."""
    return tuple(enumerate(names.split("|"), start=first))


def _literals(kind: type[SclEnum]) -> tuple[tuple[int, str], ...]:
    """The scheduler's own table of an enumeration it interprets."""
    return tuple((int(member), member.literal) for member in kind)


# IEC 61850-7-3 SIUnit (ordinal 1 is dimensionless); 84 and 85 as used for SchdIntv (h, min).
_SI_UNITS: Final = (
    *_enum(1, "|m|kg|s|A|K|mol|cd|deg|rad|sr"),
    *_enum(21, "Gy|Bq|°C|Sv|F|C|S|H|V|ohm|J|N|Hz|lx|Lm|Wb|T|W|Pa"),
    *_enum(41, "m²|m³|m/s|m/s²|m³/s|m/m³|M|kg/m³|m²/s|W/m K|J/K|ppm|1/s|rad/s|W/m²|J/m²|S/m|K/s|Pa/s|J/kg K"),
    *_enum(61, "VA|Watts|VAr|phi|cos(phi)|Vs|V²|As|A²|A²t|VAh|Wh|VArh|V/Hz|Hz/s|char|char/s|kgm²|dB|J/Wh"),
    *_enum(81, "W/s|l/s|dBm|h|min"),
)
_MULTIPLIERS: Final = tuple(
    zip(
        (-24, -21, -18, -15, -12, -9, -6, -3, -2, -1, 0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24),
        "y z a f p n \u00b5 m c d - da h k M G T P E Z Y".replace("-", "").split(" "),
        strict=True,
    )
)

ENUM_TYPES: Final[Mapping[str, tuple[tuple[int, str], ...]]] = {
    "BehaviourModeKind": _enum(1, "on|blocked|test|test/blocked|off"),
    "HealthKind": _enum(1, "Ok|Warning|Alarm"),
    "CtlModelKind": _enum(
        0,
        "status-only|direct-with-normal-security|sbo-with-normal-security"
        "|direct-with-enhanced-security|sbo-with-enhanced-security",
    ),
    "OriginatorCategoryKind": _enum(
        0,
        "not-supported|bay-control|station-control|remote-control|automatic-bay|automatic-station"
        "|automatic-remote|maintenance|process",
    ),
    "ScheduleStateKind": _literals(SchdSt),
    "ScheduleEnablingErrorKind": _literals(EnaErr),
    "OccurrenceKind": _literals(OccurrenceKind),
    "PeriodKind": _literals(Period),
    "WeekdayKind": _literals(Weekday),
    "MonthKind": _enum(
        0, "reserved|January|February|March|April|May|June|July|August|September|October|November|December"
    ),
    "MultiplierKind": _MULTIPLIERS,
    "SIUnitKind": _SI_UNITS,
}
