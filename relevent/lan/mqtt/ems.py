"""EMS extension requests: a HEDERA-style schedule request in, an accepted/rejected answer out.

The answer goes to the configured reply topic, or to the MQTT 5 response topic of the request when one is
set below the configured reply prefix: the gateway publishes with its own broker rights, so a requester
must not pick the topic (another device's `ctl/set`). The correlation data comes back either way.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import TypeGuard

import aiomqtt
import structlog

from relevent.lan.mqtt.connection import Outbox, OutMessage
from relevent.lan.mqtt.inbound import InboundError, decode
from relevent.lan.mqtt.metrics import BridgeMetrics
from relevent.lan.mqtt.payloads import RESOLUTIONS_S, ExtensionReply, ExtensionRequestPayload, utc
from relevent.lan.mqtt.seams import (
    ExtensionAccepted,
    ExtensionRejected,
    ExtensionRequest,
    ExtensionRequestHandler,
)
from relevent.lan.mqtt.topics import within

log = structlog.get_logger(__name__)


def to_request(payload: ExtensionRequestPayload) -> ExtensionRequest:
    """The typed request the handler gets."""
    start = None if payload.start is None else payload.start.seconds + payload.start.nanos / 1e9
    return ExtensionRequest(
        direction=payload.direction,
        start=start,
        interval_s=RESOLUTIONS_S[payload.resolution],
        values=tuple(payload.values),
    )


def _publishable(topic: object) -> TypeGuard[str]:
    """Whether a peer-given response topic is a valid topic name (no wildcards, not empty)."""
    return isinstance(topic, str) and bool(topic) and not any(c in topic for c in "+#\0")


class ExtensionRequests:
    """Validates requests on `topic`, hands them to the handler and answers every one of them."""

    def __init__(  # noqa: PLR0913 - the request path's collaborators, each needed once
        self,
        topic: str,
        *,
        reply_topic: str,
        reply_prefix: str | None = None,
        handler: ExtensionRequestHandler,
        outbox: Outbox,
        metrics: BridgeMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.topic = topic
        self._reply_topic = reply_topic
        self._reply_prefix = reply_prefix
        self._handler = handler
        self._outbox = outbox
        self._metrics = metrics
        self._clock = clock
        self._replies = count()

    async def handle(self, message: aiomqtt.Message) -> None:
        """Answer one request; a rejected payload is answered, then re-raised for the router to count."""
        props = message.properties
        reply_to = self._reply_to(getattr(props, "ResponseTopic", None))
        correlation: bytes | None = getattr(props, "CorrelationData", None)
        try:
            request = to_request(decode(ExtensionRequestPayload, message.payload))
        except InboundError as exc:
            self._answer(reply_to, correlation, ExtensionRejected(exc.reason))
            raise
        try:
            outcome = await self._handler.submit(request)
        except Exception:
            log.exception("extension request handler failed", request=request)
            outcome = ExtensionRejected("internal_error")
        log.info("extension request answered", request=request, outcome=outcome)
        self._answer(reply_to, correlation, outcome)

    def _reply_to(self, response_topic: object) -> str:
        """The request's response topic when it lies below the reply prefix, else the reply topic."""
        if response_topic is None:
            return self._reply_topic
        prefix = self._reply_prefix
        if _publishable(response_topic) and prefix is not None and within(response_topic, prefix):
            return response_topic
        log.warning("extension request response topic refused; answered on the reply topic",
                    response_topic=response_topic, reply_prefix=prefix)  # fmt: skip
        self._metrics.inbound_rejected.labels("request", "response_topic").inc()
        return self._reply_topic

    def _answer(
        self, reply_to: str, correlation: bytes | None, outcome: ExtensionAccepted | ExtensionRejected
    ) -> None:
        if isinstance(outcome, ExtensionAccepted):
            reply = ExtensionReply(result="accepted", ts=utc(self._clock()), slot=outcome.slot)
        else:
            reply = ExtensionReply(result="rejected", ts=utc(self._clock()), reason=outcome.reason)
        self._metrics.extension_requests.labels(reply.result).inc()
        message = OutMessage(
            reply_to, reply.model_dump_json(exclude_none=True).encode(), correlation=correlation
        )
        # Every answer is its own outbox entry: answers must not replace each other.
        self._outbox.put_message(f"ems-reply:{next(self._replies)}", message)
