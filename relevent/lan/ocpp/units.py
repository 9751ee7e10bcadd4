"""Watts and amperes at a charging station: what a limit is in the station's unit, and what it delivers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

RateUnit = Literal["A", "W"]
MIN_CURRENT_A = 6.0  # IEC 61851-1: below this the EV cannot be signalled to charge, so it pauses
A_RESOLUTION = 0.1  # OCPP 1.6 requires multipleOf 0.1; 2.0.1 asks for at most one decimal


@dataclass(frozen=True)
class Electrical:
    """A station's line voltage and the phases its EV draws on, as measured (or configured)."""

    voltage_v: float
    phases: int

    def watts(self, amps: float) -> float:
        """The power of `amps` per phase."""
        return amps * self.voltage_v * self.phases

    def amps(self, watts: float) -> float:
        """The per-phase current of `watts`, rounded down to the resolution (never above the limit)."""
        return math.floor(watts / (self.voltage_v * self.phases) / A_RESOLUTION + 1e-9) * A_RESOLUTION

    @property
    def min_w(self) -> float:
        """The lowest power an EV can be signalled to draw."""
        return self.watts(MIN_CURRENT_A)


@dataclass(frozen=True)
class StationLimit:
    """A period's value in the station's unit and in W, and whether the EV cannot follow it (< 6 A).

    In the station's sign (OCPP's): positive is a charging ceiling, negative a discharge setpoint.
    """

    value: float
    unit: RateUnit
    w: float
    clamped: bool

    @property
    def discharge(self) -> bool:
        """Whether the EV is to discharge (OCPP 2.1 CentralSetpoint) rather than charge up to a ceiling."""
        return self.w < 0


def to_station(watts: float, unit: RateUnit, electrical: Electrical) -> StationLimit:
    """`watts` as the station takes it: whole W, or A, rounded towards 0 (never more than asked).

    A ceiling between 0 and 6 A is clamped to off; a discharge is not, since a bidirectional EV is steered
    by ISO 15118-20 messages, not by the PWM duty cycle that has the 6 A floor.
    """
    sign = -1.0 if watts < 0 else 1.0
    if unit == "A":
        amps = round(electrical.amps(abs(watts)), 1)
        value, w = sign * amps, sign * electrical.watts(amps)
    else:
        value = w = sign * float(math.floor(abs(watts)))
    return StationLimit(value, unit, w, 0 < w < electrical.min_w)


def to_watts(value: float, unit: RateUnit, electrical: Electrical) -> float:
    """A station's limit (a composite schedule's, say) in W."""
    return electrical.watts(float(value)) if unit == "A" else float(value)
