"""Prometheus metrics of the OCPP driver (labels are configured station ids, so bounded)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class OcppMetrics:
    """What proxy mode exports: the operator's backend link and what the gateway refused it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
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
