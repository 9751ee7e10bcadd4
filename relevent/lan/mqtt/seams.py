"""The seams between the MQTT bridge and the rest of the gateway.

The bridge takes the scheduler's own `OutputChanged` events and `ForecastPoint`s; everything it hands back
(measurements, device health, extension requests) goes through the small protocols here, which the
composition root implements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.values import Timestamp


class ForecastSource(Protocol):
    """The scheduler's forecast of one controller's output over [t0, t1] (epoch seconds)."""

    def forecast(self, controller_ref: str, t0: Timestamp, t1: Timestamp) -> Sequence[ForecastPoint]:
        """Change points in time order, the value in force at t0 first."""
        ...


@dataclass(frozen=True)
class DeviceMeasurement:
    """A validated `meas` message; `mmxu_ref` names the measurement LN bound to the device, if any."""

    device_id: str
    mmxu_ref: str | None
    ts: Timestamp
    w: float
    var: float | None
    soc_pct: float | None


class MeasurementSink(Protocol):
    """Where device measurements go upstream (e.g. an `MMXU.TotW` mirror)."""

    def on_measurement(self, measurement: DeviceMeasurement) -> None:
        """Called on the loop for every valid measurement."""
        ...


class HealthSink(Protocol):
    """Where device health goes upstream; called only when a device's health changes."""

    def on_health(self, device_id: str, healthy: bool) -> None:
        """`healthy` False: commands went unanswered or were rejected."""
        ...


class SpoofingSink(Protocol):
    """Where evidence of a device speaking for another goes (the audit trail)."""

    def on_spoofed(self, device_id: str, sent_to: str, topic: str) -> None:
        """`topic`, of `device_id`, carried an answer to a command only `sent_to` received.

        The broker's ACL should stop this; seeing it means the ACL is missing or a credential is shared.
        """
        ...


@dataclass(frozen=True)
class ExtensionRequest:
    """A local EMS asks for a schedule (HEDERA-style): `values` in W, magnitudes, one per interval.

    `start` None means "start now"; `direction` IMPORT is consumption, EXPORT injection.
    """

    direction: Literal["IMPORT", "EXPORT"]
    start: Timestamp | None
    interval_s: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class ExtensionAccepted:
    """The request became a schedule in `slot` (an FSCH reference)."""

    slot: str


@dataclass(frozen=True)
class ExtensionRejected:
    """The request was refused; `reason` is a short machine-readable code (`no_free_slot`, ...)."""

    reason: str


class ExtensionRequestHandler(Protocol):
    """Turns an EMS extension request into scheduler commands."""

    async def submit(self, request: ExtensionRequest) -> ExtensionAccepted | ExtensionRejected:
        """Place the request; answer with the slot or a reason."""
        ...
