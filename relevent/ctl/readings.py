"""Data objects read as a whole (value, q, t) and the state names of a schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relevent.ctl.client import Scalar, Value
from relevent.scheduler.schedule import SchdSt

_VALIDITY = {0: "good", 1: "reserved", 2: "invalid", 3: "questionable"}  # Quality bits 0-1


@dataclass(frozen=True)
class Reading:
    """A status or measured DO: its value, the validity of its quality and its time stamp."""

    value: Scalar | None
    validity: str
    t: datetime | None

    @property
    def good(self) -> bool:
        """Whether the quality's validity is good."""
        return self.validity == "good"


def reading(value: Value | dict[str, Any]) -> Reading:
    """A DO as a `Reading`: read by name (`stVal` or `mag`, `q`, `t`) or reported as `(value, q, t)`.

    An AnalogueValue (`mag`) is unwrapped.
    """
    if isinstance(value, dict):
        value = (value.get("stVal", value.get("mag")), value.get("q"), value.get("t"))
    if not isinstance(value, tuple) or len(value) < 3:
        return Reading(None, "unknown", None)
    first, quality, stamp = value[:3]
    while isinstance(first, dict | tuple) and len(first) == 1:
        first = next(iter(first.values())) if isinstance(first, dict) else first[0]
    return Reading(
        None if isinstance(first, tuple) else first,
        _VALIDITY[quality & 3] if isinstance(quality, int) else "unknown",
        stamp if isinstance(stamp, datetime) else None,
    )


def state_name(state: Scalar | None) -> str:
    """`SchdSt.stVal` as a word: not-ready, start-time-required, ready, running."""
    if isinstance(state, int) and state in SchdSt._value2member_map_:
        return SchdSt(state).name.lower().replace("_", "-")
    return f"unknown ({state})"
