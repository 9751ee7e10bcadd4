"""Inbound admission: a source's messages beyond its rate are dropped as they arrive, before any parsing.

Each configured device has its own token bucket, so a device that floods the broker starves neither the
gateway nor any other device; the EMS request topic has one of its own (a request costs far more than a
measurement), and every other topic (unknown device ids) shares one. Drops are counted per source and
logged at most once per `LOG_EVERY_S` per source.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import structlog

from relevent.lan.mqtt.log_throttle import LOG_EVERY_S, LogThrottle
from relevent.lan.mqtt.metrics import BridgeMetrics
from relevent.lan.mqtt.ratelimit import TokenBucket
from relevent.lan.mqtt.topics import Topics

log = structlog.get_logger(__name__)

OTHER = "*"  # the source of every topic that belongs to no configured device (device ids never contain *)


@dataclass(frozen=True)
class RateLimit:
    """Messages per second a source may send on average, and how many at once."""

    rate: float
    burst: int


class MessageAdmission:
    """Decides per message topic whether the message goes on to be parsed."""

    def __init__(  # noqa: PLR0913 - the sources, their limit and where drops are reported
        self,
        topics: Topics,
        device_ids: Iterable[str],
        limit: RateLimit,
        metrics: BridgeMetrics,
        *,
        own_topics: Mapping[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`limit` holds for each device and for the other topics; `own_topics` have their own."""
        self._topics = topics
        self._own_topics = frozenset(own_topics or {})
        self._limits = dict.fromkeys([*device_ids, OTHER], limit) | dict(own_topics or {})
        self._buckets = {s: TokenBucket(lim.rate, lim.burst, clock) for s, lim in self._limits.items()}
        self._dropped = {source: metrics.inbound_rate_limited.labels(source) for source in self._limits}
        self._log = LogThrottle(LOG_EVERY_S, clock)

    def admit(self, topic: str) -> bool:
        """Whether a message on `topic` is within its source's rate; a refused one is counted."""
        source = self._source(topic)
        if self._buckets[source].take():
            return True
        self._dropped[source].inc()
        held = self._log.let(source)
        if held is not None:
            log.warning(
                "mqtt source over its message rate, messages dropped",
                source=source, dropped=held + 1, rate=self._limits[source].rate,
                burst=self._limits[source].burst,
            )  # fmt: skip
        return False

    def _source(self, topic: str) -> str:
        if topic in self._own_topics:
            return topic
        parsed = self._topics.parse_inbound(topic)
        if parsed is not None and parsed[0] in self._buckets:
            return parsed[0]
        return OTHER
