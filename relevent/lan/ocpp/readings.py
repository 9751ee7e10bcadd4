"""OCPP timestamps and meter values, as every OCPP version writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from relevent.scheduler.values import Timestamp

# (ts, W, phases, V) of one meter value
Reading = tuple[Timestamp, float | None, int | None, float | None]


def iso(ts: Timestamp) -> str:
    """An OCPP timestamp: UTC, whole seconds (stations floor fractions and apply periods early)."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: object, default: Timestamp) -> Timestamp:
    """A station's timestamp, or `default` when it sent none readable."""
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        return default
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def sampled(
    meter_values: Iterable[Mapping[str, Any]],
    default_ts: Timestamp,
    value_of: Callable[[Mapping[str, Any]], float],
) -> Iterable[Reading]:
    """One reading per meter value: Power.Active.Import summed over phases, the mean voltage.

    `value_of` reads a sampled value in base units (the versions write units differently).
    """
    for meter_value in meter_values:
        ts = parse_ts(meter_value.get("timestamp"), default_ts)
        power: list[float] = []
        total: float | None = None
        volts: list[float] = []
        for sample in meter_value.get("sampled_value", ()):
            measurand = sample.get("measurand", "Energy.Active.Import.Register")
            if measurand == "Power.Active.Import":
                if sample.get("phase") is None:
                    total = value_of(sample)
                else:
                    power.append(value_of(sample))
            elif measurand == "Voltage":
                volts.append(value_of(sample))
        w = total if total is not None else (sum(power) if power else None)
        phases = len(power) if power else None
        yield ts, w, phases, (sum(volts) / len(volts) if volts else None)
