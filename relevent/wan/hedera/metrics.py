"""The adapter's Prometheus metrics (`relevent_hedera_*`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HederaMetrics:
    """HTTP calls, token refreshes, request outcomes, decisions, fallbacks, grants, contact, Sunset."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.http_requests = Counter("relevent_hedera_http_requests", "HEDERA calls by endpoint and status",
                                     ["endpoint", "status"], registry=registry)  # fmt: skip
        self.http_duration = Histogram("relevent_hedera_http_duration_seconds", "HEDERA call duration",
                                       ["endpoint"], registry=registry)  # fmt: skip
        self.token_refresh = Counter("relevent_hedera_token_refresh", "token fetches by result", ["result"],
                                     registry=registry)  # fmt: skip
        self.requests = Counter("relevent_hedera_requests", "EMS requests by outcome", ["outcome"],
                                registry=registry)  # fmt: skip
        self.decision = Histogram("relevent_hedera_decision_seconds", "POST to HEDERA's decision",
                                  buckets=(1, 5, 10, 30, 60, 120, 300, 600), registry=registry)  # fmt: skip
        self.fallback_active = Gauge("relevent_hedera_fallback_active", "firm capacity in force (1)",
                                     ["direction"], registry=registry)  # fmt: skip
        self.grant_w = Gauge("relevent_hedera_grant_watts", "the granted limit in force now, W",
                             ["direction"], registry=registry)  # fmt: skip
        self.last_contact = Gauge("relevent_hedera_last_contact_timestamp_seconds",
                                  "last successful HEDERA call", registry=registry)  # fmt: skip
        self.sunset = Gauge("relevent_hedera_api_sunset_timestamp_seconds",
                            "when HEDERA switches this API version off", registry=registry)  # fmt: skip
