"""OCPP timestamps and meter values, as every OCPP version writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from relevent.scheduler.values import Timestamp

IMPORT, EXPORT = "Power.Active.Import", "Power.Active.Export"
# (ts, W imported, phases, V) of one meter value
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
    """One reading per meter value: the power imported and the mean voltage.

    The power is Power.Active.Import less Power.Active.Export (a discharging EV exports), each its total
    or else the sum of its phases. `value_of` reads a sampled value in base units (the versions write
    units differently).
    """
    for meter_value in meter_values:
        ts = parse_ts(meter_value.get("timestamp"), default_ts)
        totals: dict[str, float] = {}
        phased: dict[str, list[float]] = {IMPORT: [], EXPORT: []}
        volts: list[float] = []
        for sample in meter_value.get("sampled_value", ()):
            measurand = sample.get("measurand", "Energy.Active.Import.Register")
            if measurand in phased:
                if sample.get("phase") is None:
                    totals[measurand] = value_of(sample)
                else:
                    phased[measurand].append(value_of(sample))
            elif measurand == "Voltage":
                volts.append(value_of(sample))
        imported, exported = (_power(totals.get(m), phased[m]) for m in (IMPORT, EXPORT))
        w = None if imported is None and exported is None else (imported or 0.0) - (exported or 0.0)
        phases = len(phased[IMPORT] or phased[EXPORT]) or None
        yield ts, w, phases, (sum(volts) / len(volts) if volts else None)


def _power(total: float | None, phases: list[float]) -> float | None:
    """A measurand's power: its total, else the sum of its phases (None: not sampled)."""
    if total is not None:
        return total
    return sum(phases) if phases else None
