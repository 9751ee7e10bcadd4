"""The broker session: connect, subscribe, receive, publish, reconnect with capped exponential backoff.

Nothing queues without bound while the broker is away: messages wait in an `Outbox` keyed by what they
are about (one device's command, one device's plan, the status), where the newest replaces the older, and
each is built only when it is sent, so a command carries the time it really left.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiomqtt
import structlog
from paho.mqtt import client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client import Counter

from relevent.lan.mqtt.config import BrokerConfig
from relevent.lan.mqtt.metrics import BridgeMetrics

log = structlog.get_logger(__name__)
OUTAGE_REMINDER_EVERY = 60  # failed attempts between two warnings of one outage
# Inbound messages waiting for the loop; a flood beyond what the gateway can validate drops the oldest,
# so memory stays bounded and the newest measurement of a device survives.
INBOX_LIMIT = 2000


def _send_at_once(client: aiomqtt.Client) -> None:
    """Send each packet as it is queued: Nagle's algorithm off, the socket written at once.

    With Nagle on (paho's default), a small packet written while the previous one is unacknowledged waits
    for the broker's delayed ACK: an EMS answer behind the request's PUBACK went out that late
    (docs/performance.md). And aiomqtt hands paho's wish to write to the loop (`add_writer`, itself through
    `call_soon_threadsafe`), so a device's command left two loop turns after its publish, behind whatever
    else those turns held. paho writes at once when nobody takes that wish; on the loop's thread this does
    the same, and leaves to aiomqtt's writer only what the socket did not take.
    """
    paho = client._client  # noqa: SLF001 - aiomqtt does not expose its paho client
    sock = paho.socket()
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop_thread = threading.get_ident()  # called on the loop
    register = paho.on_socket_register_write
    if register is None:
        return

    def write_now(mqttc: mqtt.Client, userdata: Any, sock: Any) -> None:
        if threading.get_ident() == loop_thread:
            try:
                mqttc.loop_write()
            except Exception:  # aiomqtt's writer meets it again and ends the connection
                log.debug("mqtt immediate write failed", exc_info=True)
            else:
                if not mqttc.want_write():
                    return
        register(mqttc, userdata, sock)

    paho.on_socket_register_write = write_now


def _inbox(admit: Callable[[str], bool], overflow: Counter) -> type[asyncio.Queue[aiomqtt.Message]]:
    """An inbox class for aiomqtt whose `put_nowait` never fails.

    It runs in paho's read callback, as each message arrives: a message `admit` refuses (by topic) never
    enters, so its payload is never parsed; when the inbox is full, the oldest message goes.
    """

    class Inbox(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            if not admit(item.topic.value):
                return
            if self.full():
                self.get_nowait()
                overflow.inc()
            super().put_nowait(item)

    return Inbox


_FAREWELL_TIMEOUT_S = 1.0
# Publications awaiting their PUBACK (each at most `timeout_s`); aiomqtt warns above its default of 10.
_MAX_IN_FLIGHT = 10_000


@dataclass(frozen=True)
class OutMessage:
    """One publication; the MQTT 5 fields are dropped on MQTT 3.1.1."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1
    expiry_s: int | None = None
    response_topic: str | None = None
    correlation: bytes | None = None
    on_published: Callable[[], None] | None = None


Build = Callable[[], OutMessage | None]
"""Builds a message at send time; None: nothing to send any more."""


class Outbox:
    """Pending publications by key; putting a key again replaces its older message."""

    def __init__(self) -> None:
        self._items: dict[str, Build] = {}
        self._ready = asyncio.Event()

    def put(self, key: str, build: Build) -> None:
        """Queue (or replace) the message for `key`."""
        self._items[key] = build
        self._ready.set()

    def put_message(self, key: str, message: OutMessage) -> None:
        """Queue (or replace) a message built already."""
        self.put(key, lambda: message)

    def __len__(self) -> int:
        return len(self._items)

    async def take(self) -> list[Build]:
        """Wait for pending messages and take them all."""
        await self._ready.wait()
        items = list(self._items.values())
        self._items.clear()
        self._ready.clear()
        return items


class BrokerSession:
    """One logical connection to the broker that survives broker restarts."""

    def __init__(  # noqa: PLR0913 - the session's collaborators, each needed once
        self,
        config: BrokerConfig,
        *,
        client_id: str,
        will: OutMessage,
        subscriptions: Sequence[str],
        on_connected: Callable[[], None],
        on_disconnected: Callable[[], None],
        on_message: Callable[[aiomqtt.Message], Awaitable[None]],
        admit: Callable[[str], bool],
        outbox: Outbox,
        metrics: BridgeMetrics,
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._will = will
        self._subscriptions = list(subscriptions)
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_message = on_message
        self._admit = admit
        self._metrics = metrics
        self._client: aiomqtt.Client | None = None
        self._up = asyncio.Event()
        self._templates: dict[tuple[int | None, str | None], Properties] = {}  # see `_properties`
        self.outbox = outbox

    @property
    def connected(self) -> bool:
        """Whether a broker connection is up now."""
        return self._up.is_set()

    @property
    def v5(self) -> bool:
        """Whether the session speaks MQTT 5."""
        return self._config.mqtt.protocol == "5"

    async def run(self) -> None:
        """Connect, receive and reconnect until cancelled; on cancellation announce the will ourselves."""
        delay = self._config.mqtt.reconnect_min_s
        failures = 0  # attempts since the broker was last reached
        while True:
            try:
                async with self._new_client() as client:
                    delay, failures = self._config.mqtt.reconnect_min_s, 0
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                self._metrics.connection_errors.inc()
                failures += 1
                event = "mqtt connection lost" if self.connected else "mqtt broker unreachable"
                # An outage retries every second: warn at its start and then about once a minute.
                emit = log.warning if failures == 1 or failures % OUTAGE_REMINDER_EVERY == 0 else log.debug
                emit(event, error=str(exc), retry_in_s=delay, attempts=failures, **self._where())
            finally:
                self._set_down()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.mqtt.reconnect_max_s)

    async def publish_loop(self) -> None:
        """Send what the outbox holds whenever the broker is up.

        A publication never waits for the PUBACKs of earlier ones: they arrive behind everything the broker
        sends the gateway, so a flood of inbound messages would hold back the next command.
        """
        in_flight = asyncio.Semaphore(_MAX_IN_FLIGHT)
        async with asyncio.TaskGroup() as group:
            while True:
                await self._up.wait()
                batch = await self.outbox.take()
                client = self._client
                if client is None:  # went down meanwhile; `on_connected` queues every current message again
                    continue
                for build in batch:
                    await in_flight.acquire()
                    task = group.create_task(self._publish(client, build))
                    task.add_done_callback(lambda _: in_flight.release())

    async def _serve(self, client: aiomqtt.Client) -> None:
        client.pending_calls_threshold = _MAX_IN_FLIGHT
        _send_at_once(client)
        for topic in self._subscriptions:
            await client.subscribe(topic, qos=1)
        self._client = client
        self._up.set()
        self._metrics.connected.set(1)
        self._metrics.connects.inc()
        log.info("mqtt connected", **self._where())
        self._on_connected()
        try:
            async for message in client.messages:
                await self._on_message(message)
        except asyncio.CancelledError:
            # A normal DISCONNECT discards the will, so a clean stop publishes it itself.
            with contextlib.suppress(aiomqtt.MqttError):
                await self._send(client, self._will, wait_s=_FAREWELL_TIMEOUT_S)
            raise

    async def _publish(self, client: aiomqtt.Client, build: Build) -> None:
        message = build()
        if message is None:
            return
        try:
            await self._send(client, message)
        except (aiomqtt.MqttError, ValueError) as exc:  # ValueError: paho refused the topic
            # Not retried: on reconnect `on_connected` queues every current message again.
            log.info("mqtt publish failed", topic=message.topic, error=str(exc))
            return
        if message.on_published is not None:
            message.on_published()

    async def _send(self, client: aiomqtt.Client, message: OutMessage, wait_s: float | None = None) -> None:
        await client.publish(
            message.topic,
            message.payload,
            qos=message.qos,
            retain=message.retain,
            properties=self._properties(message),
            timeout=wait_s,
        )

    def _properties(self, message: OutMessage) -> Properties | None:
        if not self.v5:
            return None
        # A device's commands differ only in their correlation data: copy its fixed part (a new Properties
        # builds paho's whole name table, ~3/4 of the cost of a command's properties).
        fixed = (message.expiry_s, message.response_topic)
        template = self._templates.get(fixed)
        if template is None:
            template = self._templates[fixed] = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if message.expiry_s is not None:
                template.MessageExpiryInterval = message.expiry_s
            if message.response_topic is not None:
                template.ResponseTopic = message.response_topic
        props = copy.copy(template)
        if message.correlation is not None:
            props.CorrelationData = message.correlation
        return props

    def _set_down(self) -> None:
        if self.connected:
            self._on_disconnected()
        self._client = None
        self._up.clear()
        self._metrics.connected.set(0)

    def _new_client(self) -> aiomqtt.Client:
        cfg, mqtt = self._config, self._config.mqtt
        tls = (
            aiomqtt.TLSParameters(
                ca_certs=str(mqtt.ca_file) if mqtt.ca_file else None,
                certfile=str(mqtt.cert_file) if mqtt.cert_file else None,
                keyfile=str(mqtt.key_file) if mqtt.key_file else None,
            )
            if cfg.tls
            else None
        )
        will = self._will
        return aiomqtt.Client(
            cfg.host,
            cfg.port,
            identifier=self._client_id,
            username=mqtt.username,
            password=cfg.password,
            protocol=aiomqtt.ProtocolVersion.V5 if self.v5 else aiomqtt.ProtocolVersion.V311,
            will=aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
            keepalive=mqtt.keepalive_s,
            timeout=mqtt.timeout_s,
            tls_params=tls,
            max_inflight_messages=1000,
            max_queued_incoming_messages=INBOX_LIMIT,
            queue_type=_inbox(self._admit, self._metrics.inbound_rejected.labels("any", "overload")),
        )

    def _where(self) -> dict[str, object]:
        cfg = self._config
        scheme = "mqtts" if cfg.tls else "mqtt"
        return {"broker": f"{scheme}://{cfg.host}:{cfg.port}", "protocol": cfg.mqtt.protocol}
