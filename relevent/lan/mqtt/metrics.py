"""Prometheus metrics of the MQTT bridge, registered in the registry the caller passes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class BridgeMetrics:
    """Every metric the bridge exports; labels are device ids from the configuration, so bounded."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.connected = Gauge(
            "relevent_mqtt_connected", "1 while the broker connection is up", registry=registry
        )
        self.connects = Counter("relevent_mqtt_connects", "Successful broker connections", registry=registry)
        self.connection_errors = Counter(
            "relevent_mqtt_connection_errors",
            "Failed connection attempts and lost connections",
            registry=registry,
        )
        self.commands_sent = Counter(
            "relevent_mqtt_commands_sent", "ctl/set messages published", ["device"], registry=registry
        )
        self.acks = Counter(
            "relevent_mqtt_acks",
            "ctl/ack messages matched to a command",
            ["device", "result"],
            registry=registry,
        )
        self.acks_missing = Counter(
            "relevent_mqtt_acks_missing",
            "Commands without ack within the timeout",
            ["device"],
            registry=registry,
        )
        self.device_healthy = Gauge(
            "relevent_mqtt_device_healthy",
            "0 while a device leaves commands unanswered",
            ["device"],
            registry=registry,
        )
        self.device_online = Gauge(
            "relevent_mqtt_device_online",
            "The device's avail state (1 online)",
            ["device"],
            registry=registry,
        )
        self.device_fallback = Gauge(
            "relevent_mqtt_device_fallback",
            "1 while the device runs its local fail-safe",
            ["device"],
            registry=registry,
        )
        self.power = Gauge(
            "relevent_mqtt_device_power_watts",
            "Measured active power, positive = injection",
            ["device"],
            registry=registry,
        )
        self.reactive_power = Gauge(
            "relevent_mqtt_device_reactive_power_var",
            "Measured reactive power",
            ["device"],
            registry=registry,
        )
        self.soc = Gauge(
            "relevent_mqtt_device_soc_ratio", "Measured state of charge (0-1)", ["device"], registry=registry
        )
        self.plans_published = Counter(
            "relevent_mqtt_plans_published", "ctl/plan messages published", ["device"], registry=registry
        )
        self.inbound_rejected = Counter(
            "relevent_mqtt_inbound_rejected",
            "Inbound messages dropped",
            ["kind", "reason"],
            registry=registry,
        )
        self.inbound_rate_limited = Counter(
            "relevent_mqtt_inbound_rate_limited",
            "Inbound messages dropped unparsed: their source exceeded its message rate",
            ["source"],
            registry=registry,
        )
        self.extension_requests = Counter(
            "relevent_mqtt_extension_requests",
            "EMS extension requests answered",
            ["result"],
            registry=registry,
        )
