"""Prometheus metrics of the OCPP driver (labels are configured station ids, so bounded)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# A call's round trip: loopback stations answer in milliseconds, a station on a busy WLAN in hundreds.
CALL_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class OcppMetrics:
    """The OCPP driver's metrics.

    The round trip of the gateway's calls to stations, and in proxy mode the operator's backend link and
    what the gateway refused it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.call_seconds = Histogram(
            "relevent_ocpp_call_seconds",
            "Gateway's calls to stations, asked to answered (behind an outstanding call of the station's)",
            ["action"],
            buckets=CALL_BUCKETS_S,
            registry=registry,
        )
        self.upstream_connected = Gauge(
            "relevent_ocpp_upstream_connected",
            "1 while a proxied station's connection to its operator's CSMS is up",
            ["station"],
            registry=registry,
        )
        self.upstream_refused = Counter(
            "relevent_ocpp_upstream_refused",
            "Calls of an operator's CSMS the gateway answered itself: profiles on its reserved levels",
            ["station", "action"],
            registry=registry,
        )
