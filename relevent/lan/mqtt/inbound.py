"""Inbound messages: validated at the boundary and routed, or dropped with a metric and a log line.

Log lines of drops are throttled per kind and reason (one per `LOG_EVERY_S`, counting the others): a
device repeating a bad payload must not turn the gateway's log into its bottleneck.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import aiomqtt
import structlog
from pydantic import BaseModel, ValidationError

from relevent.errors import ReleventError
from relevent.lan.mqtt.log_throttle import LOG_EVERY_S, LogThrottle
from relevent.lan.mqtt.metrics import BridgeMetrics
from relevent.lan.mqtt.payloads import Ack, Availability, DeviceState, Measurement
from relevent.lan.mqtt.topics import Inbound, Topics
from relevent.lan.registry import Device, DeviceRegistry

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


class InboundError(ReleventError):
    """An inbound message is dropped; `reason` is the metric label (`invalid_json`, `unknown_device`, ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def decode(model: type[M], payload: bytes) -> M:
    """Validate a JSON payload against `model` or raise `InboundError`."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        reason = "invalid_json" if any(e["type"] == "json_invalid" for e in errors) else "invalid_payload"
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(payload)'}: {e['msg']}" for e in errors[:5])
        raise InboundError(reason, detail) from None


class DeviceInputs(Protocol):
    """What the bridge does with each valid device message; each may raise `InboundError`."""

    def handle_ack(self, device: Device, ack: Ack) -> None:
        """A `ctl/ack`."""

    def handle_measurement(self, device: Device, measurement: Measurement) -> None:
        """A `meas`."""

    def handle_state(self, device: Device, state: DeviceState) -> None:
        """A `state`."""

    def handle_availability(self, device: Device, availability: Availability) -> None:
        """An `avail`."""


class RequestInput(Protocol):
    """An inbound topic with a reply: it answers rejections itself, then re-raises them."""

    topic: str

    async def handle(self, message: aiomqtt.Message) -> None:
        """Answer one request."""


class InboundRouter:
    """Routes each message by topic; nothing a peer sends can raise out of `handle`."""

    def __init__(  # noqa: PLR0913 - the router's collaborators and its clock
        self,
        topics: Topics,
        registry: DeviceRegistry,
        inputs: DeviceInputs,
        metrics: BridgeMetrics,
        requests: RequestInput | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._topics = topics
        self._registry = registry
        self._inputs = inputs
        self._metrics = metrics
        self._requests = requests
        self._log = LogThrottle(LOG_EVERY_S, clock)  # keys: (kind, reason), a bounded set

    def subscriptions(self) -> list[str]:
        """Every topic filter the router consumes."""
        extra = [self._requests.topic] if self._requests else []
        return [*self._topics.inbound_filters(), *extra]

    async def handle(self, message: aiomqtt.Message) -> None:
        """Validate and route one message."""
        topic = message.topic.value
        parsed = self._topics.parse_inbound(topic)
        kind = parsed[1].name.lower() if parsed else "request" if self._is_request(topic) else "unknown"
        try:
            if self._requests is not None and self._is_request(topic):
                await self._requests.handle(message)
            else:
                self._route(parsed, message.payload)
        except InboundError as exc:
            self._metrics.inbound_rejected.labels(kind, exc.reason).inc()
            if (held := self._log.let((kind, exc.reason))) is not None:
                log.warning("mqtt message rejected", topic=topic, kind=kind, reason=exc.reason,
                            detail=exc.detail, similar_not_logged=held)  # fmt: skip
        except Exception:  # a bug in one handler must not stop the bridge
            self._metrics.inbound_rejected.labels(kind, "internal_error").inc()
            if (held := self._log.let((kind, "internal_error"))) is not None:
                log.exception("mqtt message handler failed", topic=topic, kind=kind, similar_not_logged=held)

    def _is_request(self, topic: str) -> bool:
        return self._requests is not None and topic == self._requests.topic

    def _route(self, parsed: tuple[str, Inbound] | None, payload: bytes) -> None:
        if parsed is None:
            raise InboundError("unknown_topic")
        device_id, inbound = parsed
        device = self._registry.get(device_id)
        if device is None:
            raise InboundError("unknown_device", device_id)
        match inbound:
            case Inbound.ACK:
                self._inputs.handle_ack(device, decode(Ack, payload))
            case Inbound.MEAS:
                self._inputs.handle_measurement(device, decode(Measurement, payload))
            case Inbound.STATE:
                self._inputs.handle_state(device, decode(DeviceState, payload))
            case Inbound.AVAIL:
                self._inputs.handle_availability(device, decode(Availability, payload))
