"""What `relevent-ctl write` sends: parsed from options, a JSON file or a CSV file, validated before sending.

JSON: `{"values": [100, 200], "interval": 900, "prio": 50, "start": "2026-03-01T12:00:00Z", "enable": true}`
(every key but `values` optional). CSV: a header row and one row per entry, with a `value` column and an
optional `time` column; with times the first is the start and their common step the interval.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from relevent.ctl.errors import UsageError
from relevent.scheduler.spec import ValueCdc
from relevent.scheduler.values import ScheduleValue, ValueType

RawValue = float | int | bool | str
_RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE, _FALSE = {"1", "true", "on", "yes"}, {"0", "false", "off", "no"}


@dataclass(frozen=True)
class ScheduleInput:
    """The parameters to write; None leaves a parameter as the gateway has it."""

    values: tuple[RawValue, ...] | None = None
    interval: int | None = None
    prio: int | None = None
    start: datetime | None = None
    enable: bool = False

    def over(self, base: ScheduleInput) -> ScheduleInput:
        """These parameters, falling back to `base` for those not given (`enable` if either says so)."""
        given = {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}
        return replace(base, **{**given, "enable": self.enable or base.enable})


def parse_values(text: str) -> tuple[RawValue, ...]:
    """`--values 100,200.5,0` (or `true,false` for on/off schedules)."""
    values = tuple(part.strip() for part in text.split(","))
    if not all(values):
        raise UsageError(f"--values {text!r}: empty value")
    return values


def parse_start(text: str, now: datetime) -> datetime:
    """`now`, `+30s`/`+5m`/`+2h`/`+1d` (from `now`), or ISO 8601 with a UTC offset or `Z`."""
    if text == "now":
        return now
    if relative := _RELATIVE.match(text):
        return now + timedelta(seconds=float(relative.group(1)) * _UNITS[relative.group(2)])
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"start {text!r}: not ISO 8601, 'now' or +N[s|m|h|d]") from None
    if start.tzinfo is None:
        raise UsageError(f"start {text!r}: give a UTC offset or Z (schedules run in UTC)")
    return start.astimezone(UTC)


def typed_value(kind: ValueCdc, raw: RawValue) -> ScheduleValue:
    """A value converted to the type of the schedule's value DOs (ASG float, SPG bool, ING/ENG int)."""
    value_type = kind.value_type
    text = str(raw).strip().lower()
    if value_type is ValueType.BOOL:
        if isinstance(raw, bool) or text in _TRUE | _FALSE:
            return raw if isinstance(raw, bool) else text in _TRUE
        raise UsageError(f"value {raw!r}: {kind.value} schedules take true/false or 1/0")
    try:
        number = float(raw)
    except ValueError:
        raise UsageError(f"value {raw!r}: not a number") from None
    if isinstance(raw, bool) or (value_type is ValueType.INT and not number.is_integer()):
        raise UsageError(f"value {raw!r}: {kind.value} schedules take whole numbers")
    if value_type is ValueType.INT:
        return int(number)
    if not math.isfinite(number):
        raise UsageError(f"value {raw!r}: not finite")
    return number


def load_file(path: Path, now: datetime) -> ScheduleInput:
    """A schedule from a `.json` or `.csv` file."""
    parsers = {".json": _from_json, ".csv": _from_csv}
    parse = parsers.get(path.suffix.lower())
    if parse is None:
        raise UsageError(f"{path}: a schedule file is .json or .csv")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    return parse(path, text, now)


def _from_json(path: Path, text: str, now: datetime) -> ScheduleInput:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    unknown = set(data) - {"values", "interval", "prio", "start", "enable"}
    if unknown:
        raise UsageError(f"{path}: unknown keys {sorted(unknown)}")
    values = data.get("values")
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, int | float | str) for v in values)
    ):
        raise UsageError(f"{path}: 'values' must be a non-empty list of numbers or booleans")
    start = data.get("start")
    if start is not None and not isinstance(start, str):
        raise UsageError(f"{path}: 'start' must be a string")
    enable = data.get("enable", False)
    if not isinstance(enable, bool):
        raise UsageError(f"{path}: 'enable' must be true or false")
    return ScheduleInput(
        values=tuple(values),
        interval=_integer(path, "interval", data.get("interval")),
        prio=_integer(path, "prio", data.get("prio")),
        start=parse_start(start, now) if start is not None else None,
        enable=enable,
    )


def _integer(path: Path, key: str, value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise UsageError(f"{path}: {key!r} must be a whole number")


def _from_csv(path: Path, text: str, now: datetime) -> ScheduleInput:
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "value" not in rows[0]:
        raise UsageError(f"{path}: expected a header row with a 'value' column and at least one entry")
    if any(row["value"] is None or not row["value"].strip() for row in rows):
        raise UsageError(f"{path}: a row has no value")
    values = tuple(row["value"].strip() for row in rows)
    if "time" not in rows[0]:
        return ScheduleInput(values=values)
    times = [parse_start((row["time"] or "").strip(), now) for row in rows]
    return ScheduleInput(values=values, interval=_common_step(path, times), start=times[0])


def _common_step(path: Path, times: Sequence[datetime]) -> int | None:
    """The interval the times are apart: equal, whole seconds, positive."""
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    if not steps:
        return None
    step = steps.pop()
    if steps or step <= 0 or not step.is_integer():
        raise UsageError(f"{path}: the times must be equally spaced by a whole number of seconds")
    return int(step)
