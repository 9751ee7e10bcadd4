"""Turn the text of an SCL `Val` into a typed value for its basic type."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from relevent.scl.model import EnumType, Value
from relevent.timerange import checked_seconds

_INT_RANGES: dict[str, tuple[int, int]] = {
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT24": (-(2**23), 2**23 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "INT8U": (0, 2**8 - 1),
    "INT16U": (0, 2**16 - 1),
    "INT24U": (0, 2**24 - 1),
    "INT32U": (0, 2**32 - 1),
}
_STRING_LIMITS: dict[str, int] = {
    "VisString32": 32,
    "VisString64": 64,
    "VisString65": 65,
    "VisString129": 129,
    "VisString255": 255,
    "Unicode255": 255,
    "ObjRef": 129,
    "Octet64": 64,
    "Currency": 3,
}
# Basic types that are small enumerations by name in the standard itself, not by an EnumType.
_FIXED_ENUMS: dict[str, dict[str, int]] = {
    "Dbpos": {"intermediate": 0, "off": 1, "on": 2, "bad": 3},
    "Tcmd": {"stop": 0, "lower": 1, "higher": 2, "reserved": 3},
}
_FALSE, _TRUE = frozenset({"false", "0"}), frozenset({"true", "1"})


def parse_value(text: str, btype: str, enum: EnumType | None) -> Value:
    """Parse `text` as a value of `btype`; raise ValueError with a readable reason when it does not fit."""
    if btype in _STRING_LIMITS:
        if len(text) > _STRING_LIMITS[btype]:
            raise ValueError(f"{btype} holds at most {_STRING_LIMITS[btype]} characters, got {len(text)}")
        return text
    if btype in _INT_RANGES:
        return _integer(text.strip(), btype)
    if btype in _FIXED_ENUMS:
        return _named(text.strip(), _FIXED_ENUMS[btype], btype)
    parse = _PARSERS.get(btype)
    return parse(text.strip(), enum) if parse else text


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp such as `2020-01-01T00:00:00Z` into an aware datetime."""
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        return stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def _float(text: str, _: EnumType | None) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError("NaN is not a valid initial value")
    return value


def _boolean(text: str, _: EnumType | None) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"not a BOOLEAN: {text!r}")


def _integer(text: str, btype: str) -> int:
    value = int(text)
    low, high = _INT_RANGES[btype]
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range for {btype} [{low}, {high}]")
    return value


def _enum(text: str, enum: EnumType | None) -> int:
    if enum is None:
        raise ValueError("Enum attribute without an EnumType")
    return _named(text, enum.ords, f"EnumType {enum.id}")


def _timestamp(text: str, _: EnumType | None) -> datetime:
    stamp = parse_timestamp(text)
    checked_seconds(stamp, "Timestamp")
    return stamp


def _named(text: str, ords: Mapping[str, int], what: str) -> int:
    if text in ords:
        return ords[text]
    raise ValueError(f"unknown value {text!r} of {what}")



_PARSERS: dict[str, Callable[[str, EnumType | None], Value]] = {
    "BOOLEAN": _boolean,
    "FLOAT32": _float,
    "FLOAT64": _float,
    "Enum": _enum,
    "Timestamp": _timestamp,
    "EntryTime": _timestamp,
}
