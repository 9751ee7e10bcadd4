"""HEDERA's JSON: schedule requests out, schedules and request directives in, parsed leniently.

Unknown fields are ignored, an unknown `@type` is `UNKNOWN` (never accepted), date-times may lack seconds
or carry fractions and offsets, points are placed by `position`, quantities are scaled by their
multiplier. The own inter-tie is found by its mRID, never by its index; parents that aggregate it (directly
or through other parents) cap it per slot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from relevent.errors import ReleventError

RESOLUTIONS = {"PT5M": 300, "PT15M": 900}
MULTIPLIERS = {"none": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18, "Z": 21, "Y": 24}


class HederaProtocolError(ReleventError):
    """An answer of HEDERA that cannot be read as the API describes it."""


class ScheduleState(Enum):
    """A schedule's `@type`; anything HEDERA adds later is `UNKNOWN`."""

    PENDING = "Pending"
    ACCEPTED = "Accepted"
    DECLINED = "Declined"
    CANCELLED = "Cancelled"
    CLOSED = "Closed"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, text: object) -> ScheduleState:
        """The state named `text`; an unknown or missing one is `UNKNOWN`."""
        return next((state for state in cls if state.value == text), cls.UNKNOWN)


@dataclass(frozen=True)
class Directive:
    """A call HEDERA asks for: `method` on `path`, inside [start, end] (epoch seconds)."""

    path: str
    method: str
    start: float
    end: float


@dataclass(frozen=True)
class GrantedLimits:
    """An inter-tie's limits per period of `resolution_s` from `start`, in W (None: none given: firm)."""

    start: float
    resolution_s: int
    values: tuple[float | None, ...]
    reasons: tuple[str | None, ...]


@dataclass(frozen=True)
class ScheduleAnswer:
    """A `ScheduleGetResponse`: the schedule's state and message, the own grant (if any), the directives.

    `inter_ties`: the mRIDs the schedule lists (none in a Pending answer that omits the period);
    `updated`: its `timestamp` (created or last changed), None when missing or unreadable.
    """

    schedule_id: str
    state: ScheduleState
    message: str | None
    grant: GrantedLimits | None
    directives: tuple[Directive, ...]
    inter_ties: frozenset[str] = frozenset()
    updated: float | None = None


def iso(timestamp: float) -> str:
    """Epoch seconds as HEDERA's UTC date-time (`2024-01-09T13:37:00Z`)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> float:
    """A date-time with or without seconds, fraction and offset (none: UTC) as epoch seconds."""
    if not isinstance(text, str):
        raise HederaProtocolError(f"date-time expected, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HederaProtocolError(f"not a date-time: {text!r}") from None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def schedule_request(
    mrid: str, direction: str, start: float, resolution_s: int, values: Sequence[float]
) -> dict[str, Any]:
    """The body of `POST /schedule` for one inter-tie, in W, points numbered from 0."""
    resolution = next(name for name, seconds in RESOLUTIONS.items() if seconds == resolution_s)
    return {
        "registeredInterTies": [
            {
                "mRID": mrid,
                "direction": direction,
                "isAggregatedRes": False,
                "aggregatedNodes": [],
                "timeSeries": {
                    "mRID": mrid,
                    "period": {
                        "resolution": resolution,
                        "timeInterval": {"start": iso(start), "end": iso(start + resolution_s * len(values))},
                    },
                    "quantity": {"unitMultiplier": "none", "unitSymbol": "W"},
                    "points": [{"position": i, "quantity": value} for i, value in enumerate(values)],
                },
            }
        ]
    }


def directives(body: Mapping[str, Any]) -> tuple[Directive, ...]:
    """The request directives of an answer; unreadable ones are left out."""
    found = []
    for entry in _list(body.get("requestDirectives")):
        try:
            window = entry["window"]
            found.append(Directive(str(entry["path"]), str(entry["method"]).upper(),
                                   parse_time(window["start"]), parse_time(window["end"])))  # fmt: skip
        except (KeyError, TypeError, HederaProtocolError):
            continue
    return tuple(found)


def schedule_reference(body: Mapping[str, Any]) -> str:
    """The schedule id of a POST answer (`scheduleReference.mRID`, not the answer's own `mRID`)."""
    reference = body.get("scheduleReference")
    if not isinstance(reference, dict) or not isinstance(reference.get("mRID"), str):
        raise HederaProtocolError("POST answer without scheduleReference.mRID")
    return str(reference["mRID"])


def schedule_answer(body: Mapping[str, Any], own_mrid: str) -> ScheduleAnswer:
    """A `ScheduleGetResponse` read for the inter-tie `own_mrid`."""
    schedule = body.get("schedule")
    if not isinstance(schedule, dict) or not isinstance(schedule.get("mRID"), str):
        raise HederaProtocolError("GET answer without schedule.mRID")
    ties = {str(tie.get("mRID")): tie for tie in _list(schedule.get("registeredInterTies"))}
    grant = _grant(ties, own_mrid) if own_mrid in ties else None
    message = schedule.get("message")
    try:
        updated: float | None = parse_time(schedule.get("timestamp"))
    except HederaProtocolError:
        updated = None
    return ScheduleAnswer(
        str(schedule["mRID"]),
        ScheduleState.parse(schedule.get("@type")),
        message if isinstance(message, str) else None,
        grant,
        directives(body),
        frozenset(ties),
        updated,
    )


def _grant(ties: Mapping[str, Mapping[str, Any]], own: str) -> GrantedLimits:
    """The own series, capped slot by slot by every parent that aggregates it."""
    start, resolution, values, reasons = _series(ties[own])
    for parent in _parents(ties, own):
        p_start, p_resolution, p_values, _ = _series(ties[parent])
        if p_resolution != resolution:
            raise HederaProtocolError(f"parent inter-tie {parent} has another resolution")
        for index in range(len(values)):
            at = round((start - p_start) / resolution) + index
            cap = p_values[at] if 0 <= at < len(p_values) else None
            mine = values[index]
            if cap is not None and mine is not None and cap < mine:  # a gap stays one: firm capacity
                values[index] = cap
    return GrantedLimits(start, resolution, tuple(values), tuple(reasons))


def _parents(ties: Mapping[str, Mapping[str, Any]], own: str) -> list[str]:
    """Inter-ties that aggregate `own`, directly or through others."""
    found: list[str] = []
    frontier = [own]
    while frontier:
        child = frontier.pop()
        for mrid, tie in ties.items():
            children = {str(node.get("mRID")) for node in _list(tie.get("aggregatedNodes"))}
            if child in children and mrid not in found and mrid != own:
                found.append(mrid)
                frontier.append(mrid)
    return found


def _series(tie: Mapping[str, Any]) -> tuple[float, int, list[float | None], list[str | None]]:
    """(start, resolution, W per position with None for gaps, reasons) of an inter-tie's time series."""
    try:
        series = tie["timeSeries"]
        period = series["period"]
        resolution = RESOLUTIONS[period["resolution"]]
        start = parse_time(period["timeInterval"]["start"])
        end = parse_time(period["timeInterval"]["end"])
        quantity = series["quantity"]
        if quantity.get("unitSymbol") != "W":
            raise HederaProtocolError(f"a power limit in {quantity.get('unitSymbol')!r}, not W")
        factor = 10.0 ** MULTIPLIERS[quantity.get("unitMultiplier", "none")]
        count = max(0, round((end - start) / resolution))
        values: list[float | None] = [None] * count
        reasons: list[str | None] = [None] * count
        for point in _list(series.get("points")):
            position, amount = point["position"], float(point["quantity"])
            if isinstance(position, int) and 0 <= position < count and math.isfinite(amount) and amount >= 0:
                values[position] = amount * factor
                reason = point.get("reason")
                reasons[position] = reason if isinstance(reason, str) else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise HederaProtocolError(f"unreadable time series: {exc!r}") from None
    return start, resolution, values, reasons


def _list(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
