"""The device layer's metrics (`relevent_device_*`), per device and protocol."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from relevent.lan.driver import DeviceHealth

LABELS = ["device", "protocol"]


class DeviceMetrics:
    """Intents, setpoints, health and measurements of every device, whatever its protocol."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.intents = Counter(
            "relevent_device_intents", "Intents handed to the device's driver (changes and refreshes)",
            LABELS, registry=registry,
        )  # fmt: skip
        self.setpoint = Gauge(
            "relevent_device_setpoint_watts", "The intent's power fields in W (NaN: no value)",
            [*LABELS, "field"], registry=registry,
        )  # fmt: skip
        self.on = Gauge(
            "relevent_device_on", "The intent's on/off field (1 on, 0 off, NaN: no value)", LABELS,
            registry=registry,
        )  # fmt: skip
        self.health = Gauge(
            "relevent_device_health", "1 for the device's current health as its driver judges it",
            [*LABELS, "health"], registry=registry,
        )  # fmt: skip
        self.healthy = Gauge(
            "relevent_device_healthy", "1 while the device follows its intent", LABELS, registry=registry
        )
        self.power = Gauge(
            "relevent_device_power_watts", "Measured active power in W (positive: injection)", LABELS,
            registry=registry,
        )  # fmt: skip
        self.measured_at = Gauge(
            "relevent_device_measurement_timestamp_seconds", "When the device last measured (epoch s)",
            LABELS, registry=registry,
        )  # fmt: skip

    def set_health(self, device: str, protocol: str, health: DeviceHealth) -> None:
        """One health state at 1, every other at 0."""
        for state in DeviceHealth:
            self.health.labels(device, protocol, state.value).set(int(state is health))
        self.healthy.labels(device, protocol).set(int(health.healthy))
