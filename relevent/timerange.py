"""The one range of time values the gateway represents, and the check every boundary applies.

1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z: MMS UtcTime counts unsigned 32-bit seconds since the epoch,
the narrowest of the gateway's consumers; Python datetimes (years 1 to 9999), SQLite and JSON floats
(exact to the microsecond up to 2^33 s) hold all of it. A time from outside (an MMS write, an EMS request,
a device's `ts`, an SCL initial value, a stored row, later IEC 104 and OCPP dates) is refused where it
enters, so nothing behind the boundary ever meets a time it cannot represent.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from relevent.errors import ReleventError

EARLIEST = 0.0
LATEST = float(2**32 - 1)  # whole seconds: millisecond rounding cannot carry past the UtcTime range


class TimeRangeError(ReleventError, ValueError):
    """A time value outside [EARLIEST, LATEST]; the message says which value and the range."""


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


RANGE_TEXT = f"{_iso(EARLIEST)} .. {_iso(LATEST)}"


def _representable(seconds: float) -> bool:
    return math.isfinite(seconds) and EARLIEST <= seconds <= LATEST


def check_time(seconds: float, what: str = "time") -> float:
    """Return `seconds` (since the epoch) when representable, else raise `TimeRangeError`."""
    if not _representable(seconds):
        raise TimeRangeError(f"{what} {seconds!r} is outside the representable range {RANGE_TEXT}")
    return seconds


def checked_seconds(stamp: datetime, what: str = "time") -> float:
    """The epoch seconds of an aware datetime when representable, else raise `TimeRangeError`."""
    try:
        seconds = stamp.timestamp()
    except (OverflowError, ValueError):  # a local time whose UTC instant lies outside datetime's years
        seconds = math.nan
    if not _representable(seconds):
        raise TimeRangeError(f"{what} {stamp.isoformat()} is outside the representable range {RANGE_TEXT}")
    return seconds
