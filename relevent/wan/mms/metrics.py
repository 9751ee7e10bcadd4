"""Prometheus metrics of the MMS server, registered in the registry the caller passes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from relevent.wan.mms.guard import Reason


class MmsMetrics:
    """MMS connections: closed by the guard or the TLS front (by bounded reason), failed logins, open now."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.guard_closed = Counter(
            "relevent_mms_guard_closed",
            "MMS connections closed by the gateway (handshake, certificate, timeout, not relayed, limits, "
            "failed or throttled authentication)",
            ["reason"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "relevent_mms_auth_failures", "MMS associations refused for a wrong credential", registry=registry
        )
        self.associations = Gauge(
            "relevent_mms_associations", "MMS clients associated now", registry=registry
        )

    def on_guard_close(self, reason: Reason) -> None:
        """Count one connection the guard closed."""
        self.guard_closed.labels(reason).inc()

    def on_auth_failure(self) -> None:
        """Count one failed authentication."""
        self.auth_failures.inc()
