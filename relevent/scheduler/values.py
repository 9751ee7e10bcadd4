"""Value and time representations shared by the scheduler core.

Timestamps are `float` seconds since 1970-01-01T00:00:00Z (UTC) everywhere in the API: clock readings,
`StrTm.setTm`, `ActStrTm`/`NxtStrTm`, event times. `0.0` is the IEC 61850 "not set" start time.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TypeAlias

from relevent.errors import ReleventError
from relevent.timerange import TimeRangeError, check_time

Timestamp: TypeAlias = float
ScheduleValue: TypeAlias = float | bool | int

NOT_SET: Timestamp = 0.0
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# The largest finite FLOAT32: every float DA of the model (`setMag.f`, `mag.f`, `mxVal.f`) holds at most this.
FLOAT32_MAX = 3.4028234663852886e38


class ValueType(Enum):
    """The Python type carried by a schedule value, a controller output or a controlled entity."""

    FLOAT = "float"
    BOOL = "bool"
    INT = "int"

    @property
    def default(self) -> ScheduleValue:
        """The value an attribute of this type holds before anything was written."""
        return {ValueType.FLOAT: 0.0, ValueType.BOOL: False, ValueType.INT: 0}[self]


class CoercionError(ReleventError):
    """A raw value cannot be converted; `type_conflict` tells a wrong type from a wrong value."""

    def __init__(self, message: str, *, type_conflict: bool) -> None:
        super().__init__(message)
        self.type_conflict = type_conflict


def coerce_value(value_type: ValueType, raw: object) -> ScheduleValue:
    """Convert a written value to `value_type`; raise `CoercionError` on a wrong type or an overflow.

    NaN and infinities are kept on purpose: they are "missing values" that enable validation reports (code 4).
    A finite number beyond FLOAT32 is refused: the model's DAs cannot hold it, and no device could apply it.
    """
    if value_type is ValueType.BOOL:
        if isinstance(raw, bool):
            return raw
        raise CoercionError(f"expected a boolean, got {raw!r}", type_conflict=True)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise CoercionError(f"expected a number, got {raw!r}", type_conflict=True)
    if value_type is ValueType.FLOAT:
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf  # an int beyond any float: as far out of range as one can be
        if abs(value) > FLOAT32_MAX and (math.isfinite(value) or not isinstance(raw, float)):
            raise CoercionError(f"{raw!r} is beyond the FLOAT32 range", type_conflict=False)
        return value
    return coerce_int32(raw)


def coerce_int32(raw: object) -> int:
    """Convert a written INT32 (an int, or a float holding a whole number) or raise `CoercionError`."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise CoercionError(f"expected an integer, got {raw!r}", type_conflict=True)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise CoercionError(f"expected an integer, got {raw!r}", type_conflict=True)
        raw = int(raw)
    if not INT32_MIN <= raw <= INT32_MAX:
        raise CoercionError(f"{raw} is outside INT32", type_conflict=False)
    return raw


def coerce_timestamp(raw: object) -> Timestamp:
    """Convert a written UTC timestamp (epoch seconds) or raise `CoercionError` (see `relevent.timerange`)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise CoercionError(f"expected epoch seconds, got {raw!r}", type_conflict=True)
    try:
        return check_time(float(raw), "start time")
    except TimeRangeError as exc:
        raise CoercionError(str(exc), type_conflict=False) from None


def is_valid_value(value: ScheduleValue) -> bool:
    """Return whether a schedule value may be output (floats must be finite)."""
    return not isinstance(value, float) or math.isfinite(value)
