"""Where the device layer hands device data upstream; the composition root implements these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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
    """Where device health goes upstream; called only when a device turns healthy or unhealthy."""

    def on_health(self, device_id: str, healthy: bool) -> None:
        """`healthy` False: the device does not follow its intent (see `DeviceHealth.healthy`)."""
        ...
