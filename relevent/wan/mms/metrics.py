"""Prometheus metrics of the MMS server, registered in the registry the caller passes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from relevent.wan.mms.guard import Reason


class MmsMetrics:
    """Connections closed before their association, by reason (bounded: the guard's and the TLS front's)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.guard_closed = Counter(
            "relevent_mms_guard_closed",
            "MMS connections closed before their association (handshake, certificate, timeout, not relayed)",
            ["reason"],
            registry=registry,
        )

    def on_guard_close(self, reason: Reason) -> None:
        """Count one connection the guard closed."""
        self.guard_closed.labels(reason).inc()
