"""Where the device layer hands device data upstream; the composition root implements these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from relevent.lan.driver import DeviceHealth
from relevent.scheduler.values import Timestamp


@dataclass(frozen=True)
class DeviceMeasurement:
    """A device's valid measurement; `mmxu_ref` names the measurement LN bound to the device, if any."""

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
    """Where device health goes upstream; called when a device's health changes."""

    def on_health(self, device_id: str, health: DeviceHealth) -> None:
        """The device's new health (`health.healthy` False: it does not follow its intent)."""
        ...
