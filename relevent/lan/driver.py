"""The seam between the device layer and a LAN driver (MQTT, SunSpec, Modbus relay, OCPP).

The device layer turns controller outputs into one `DeviceIntent` per device and the forecast into one
`DevicePlan`; a driver carries them to its devices in its own protocol and reports back what the devices
did (`HealthReport`) and measured (`MeterReading`). All values are SI: watts, seconds since the epoch (UTC).
Calls in both directions happen on the event loop and never block it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from relevent.scheduler.values import Timestamp

CommandField = Literal["w_set", "w_max_lim", "on"]
COMMAND_FIELDS: tuple[CommandField, ...] = ("w_set", "w_max_lim", "on")


@dataclass(frozen=True)
class DeviceFields:
    """One device's command fields; None where the bound controller has no value (or none is bound).

    `w_set` is the active power setpoint in W (positive: injection, negative: consumption, as on MQTT);
    `w_max_lim` a magnitude in W.
    """

    w_set: float | None = None
    w_max_lim: float | None = None
    on: bool | None = None


@dataclass(frozen=True)
class FieldSource:
    """Where a field's value comes from: the active schedule (full FSCH reference) and its priority."""

    schedule: str
    priority: int


@dataclass(frozen=True)
class DeviceIntent:
    """The whole intent now in force for one device; a newer one for the same device replaces it.

    `valid_until`: the device falls back on its own after that instant unless a newer intent arrives.
    `fallback`: the values of the bound controllers' reserve schedules (what the device should revert to
    when the gateway is gone), None fields where no reserve value is known.
    """

    device_id: str
    seq: int
    issued: Timestamp
    valid_until: Timestamp
    fields: DeviceFields
    sources: Mapping[CommandField, FieldSource] = field(default_factory=dict)
    fallback: DeviceFields = DeviceFields()


@dataclass(frozen=True)
class DevicePlan:
    """The device's fields ahead: (start, fields) at every change, in time order, the current one first."""

    device_id: str
    issued: Timestamp
    steps: tuple[tuple[Timestamp, DeviceFields], ...]


class DeviceHealth(StrEnum):
    """What a device did with its latest intent, as its driver judges it."""

    UNKNOWN = "unknown"  # nothing commanded yet, or no answer yet
    APPLIED = "applied"
    CLAMPED = "clamped"  # applied within the device's own limits (a lower value than asked)
    REJECTED = "rejected"  # refused by the device, or a field the device cannot carry out
    NOT_APPLIED = "not_applied"  # accepted but not carried out (read-back or meter values disagree)
    NOT_ACKNOWLEDGED = "not_acknowledged"  # no answer within the driver's timeout
    UNREACHABLE = "unreachable"  # no connection to the device

    @property
    def healthy(self) -> bool:
        """Whether the device follows its intent (unknown counts as healthy until proven otherwise)."""
        return self in {DeviceHealth.UNKNOWN, DeviceHealth.APPLIED, DeviceHealth.CLAMPED}


@dataclass(frozen=True)
class HealthReport:
    """A device's health after an intent (`seq`, None when not tied to one), with the device's reason."""

    device_id: str
    health: DeviceHealth
    seq: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class MeterReading:
    """What a device measured at `ts`: active power in W (positive: injection), optionally more.

    `state` is the device's own operating state where it reports one (an inverter's MPPT, THROTTLED,
    FAULT, ...).
    """

    device_id: str
    ts: Timestamp
    w: float
    var: float | None = None
    soc_pct: float | None = None
    state: str | None = None


class DeviceReports(Protocol):
    """Where a driver reports; the device layer forwards to the MMXU mirror, metrics and status page."""

    def on_health(self, report: HealthReport) -> None:
        """A device's health; may repeat the current health (the layer keeps only changes)."""
        ...

    def on_measurement(self, measurement: MeterReading) -> None:
        """A valid measurement."""
        ...


class Driver(Protocol):
    """One LAN protocol serving its devices; the device layer holds one per configured protocol."""

    protocol: str  # the `[[devices]] protocol` it serves

    def apply(self, intent: DeviceIntent) -> None:
        """Hand over the device's newest intent; returns at once (a slow device delays only itself)."""
        ...

    def apply_plan(self, plan: DevicePlan) -> None:
        """Hand over the device's newest plan; drivers whose devices take no plan ignore it."""
        ...

    async def run(self, reports: DeviceReports) -> None:
        """Serve the devices until cancelled: connections, reconnects, polls, refreshes; never raises."""
        ...
