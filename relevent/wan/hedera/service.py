"""The HEDERA adapter as a gateway service: its directions checked against the model, its own MQTT session.

The EMS side is an aiomqtt session of its own to the gateway's broker (`[mqtt]` url, credentials, TLS):
it subscribes to the request topic (and the EMS's availability topic), hands each request to the
lifecycle (which answers at once and asks HEDERA in a task), and sends the replies and the retained state
from an outbox, so a broker outage loses no reply that can still be sent once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client import CollectorRegistry

from relevent.config import MqttSection, Settings
from relevent.errors import ConfigError
from relevent.obs.audit_store import AuditEntry
from relevent.refs import full_ref
from relevent.scheduler.intents import Intents
from relevent.scheduler.spec import ModelSpec, ValueCdc
from relevent.scheduler.verdicts import ActorSlots
from relevent.scl.model import LogicalNode, SclDocument
from relevent.scl.units import si_factor
from relevent.wan.hedera.client import HederaClient
from relevent.wan.hedera.config import HederaSection
from relevent.wan.hedera.lifecycle import PROTOCOL, HederaLifecycle, Target
from relevent.wan.hedera.metrics import HederaMetrics
from relevent.wan.hedera.store import STORE_FILE, HederaStore

log = structlog.get_logger(__name__)

OUTBOX_LIMIT = 1000
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 10.0
DRAIN_S = 2.0  # at a stop, for the last replies


def targets(
    section: HederaSection, model: ModelSpec, doc: SclDocument, share: ActorSlots | None
) -> dict[str, Target]:
    """Each configured direction against the model and the `hedera` actor's slots; refused when unusable.

    A direction needs a MaxPow controller fed by at least two of the actor's slots (a grant's and the firm
    capacity's), and a band at least one wide (the firm capacity outranks the grants).
    """
    if share is None:
        raise ConfigError('[hedera] needs an [[actors]] entry name = "hedera" with band and slots')
    if share.band[1] <= share.band[0]:
        raise ConfigError('[[actors]] "hedera": band must be at least one wide (grants, then firm capacity)')
    controllers = {c.ref: c for c in model.controllers}
    schedules = {s.ref: s for s in model.schedules}
    nodes = {f"{ld.name}/{ln.name}": ln for _, ld, ln in doc.logical_nodes()}
    found = {}
    for name, direction in section.directions().items():
        ref = full_ref(direction.controller, model.ied_name)
        controller = controllers.get(ref)
        where = f"[hedera.{name.lower()}] controller {direction.controller!r}"
        if controller is None or not ref.rpartition("/")[2].startswith("MaxPow"):
            raise ConfigError(f"{where} is no MaxPow controller of the model")
        fed = [slot for slot in share.slots if slot in controller.schedule_refs]
        if len(fed) < 2:
            raise ConfigError(f'{where}: [[actors]] "hedera" needs at least two slots it references')
        sizes = sorted(len(schedules[slot].value_names) for slot in fed)
        unit = si_factor(nodes[fed[0]], ValueCdc.ASG.output[0])
        found[name] = Target(name, direction, ref, unit, sum(sizes) - sizes[0])
        reserves = [nodes[r] for r in controller.schedule_refs if r in schedules and schedules[r].reserve]
        _check_reserve(name, direction.firm_capacity_w, reserves, unit)
    shared = [t.controller for t in found.values()]
    if len(set(shared)) < len(shared):
        log.warning(
            "both HEDERA directions limit one controller: they share one MaxPow", controller=shared[0]
        )
    return found


def _check_reserve(direction: str, firm_w: float, reserves: list[LogicalNode], unit: float) -> None:
    """Warn when the model's reserve (what runs when no schedule does) allows more than the firm capacity."""
    for reserve in reserves:
        value = reserve.initial("ValASG001.setMag.f")
        if isinstance(value, int | float) and not isinstance(value, bool) and value * unit > firm_w:
            log.warning("the reserve schedule allows more than the firm capacity", direction=direction,
                        reserve=reserve.name, reserve_w=value * unit, firm_capacity_w=firm_w)  # fmt: skip


class HederaService:
    """The lifecycle, its HTTP client and store, and the EMS's MQTT session."""

    def __init__(  # noqa: PLR0913, PLR0917 - the gateway's parts the adapter needs
        self,
        section: HederaSection,
        mqtt: MqttSection,
        gateway_id: str,
        found: Mapping[str, Target],
        intents: Intents,
        band: tuple[int, int],
        *,
        state_dir: Path | None,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        audit: Callable[[AuditEntry], None] | None = None,
    ) -> None:
        self._section = section
        self._mqtt = mqtt
        self._outbox: asyncio.Queue[tuple[str, bytes, bool, bytes | None]] = asyncio.Queue(OUTBOX_LIMIT)
        self.metrics = HederaMetrics(registry)
        self.store = HederaStore(None if state_dir is None else state_dir / STORE_FILE)
        self.client = HederaClient(section, section.client_secret(), clock, self.metrics)
        state_topic = section.ems.state_topic or f"{mqtt.root}/{gateway_id}/hedera/state"
        self.lifecycle = HederaLifecycle(section, found, intents, band, self.client, self.store, clock=clock,
                                         publish=self._queue, state_topic=state_topic, metrics=self.metrics,
                                         audit=audit)  # fmt: skip
        self._identifier = f"relevent-{gateway_id}-hedera-{uuid.uuid4().hex[:6]}"
        self.connected = False

    async def run(self) -> None:
        """The lifecycle and the MQTT session, until `stop`."""
        async with asyncio.TaskGroup() as group:
            mqtt = group.create_task(self._session(), name="hedera-mqtt")
            await self.lifecycle.run()
            await self._drain()
            mqtt.cancel()
        self.store.close()

    @property
    def degraded(self) -> bool:
        """Firm capacity in force somewhere, or the credentials refused: `/readyz` says not ready."""
        return self.lifecycle.fallback_active or self.lifecycle.auth_failed

    def stop(self) -> None:
        """The gateway stops: firm capacity where grants run (`on_shutdown`), then the tasks end."""
        self.lifecycle.stop()

    def _queue(self, topic: str, payload: dict[str, Any], retain: bool, correlation: bytes | None) -> None:
        try:
            self._outbox.put_nowait((topic, json.dumps(payload).encode(), retain, correlation))
        except asyncio.QueueFull:
            log.warning("HEDERA reply dropped: the outbox is full", topic=topic)

    async def _drain(self) -> None:
        """Give the last replies (the shutdown's fallback) a moment to leave."""
        if self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_S):
                    await self._outbox.join()

    async def _session(self) -> None:
        delay = RECONNECT_MIN_S
        while True:
            try:
                async with self._client() as client:
                    delay = RECONNECT_MIN_S
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                log.warning("HEDERA EMS session down", error=str(exc), retry_in_s=delay)
            finally:
                self.connected = False
            await asyncio.sleep(delay)
            delay = min(2 * delay, RECONNECT_MAX_S)

    async def _serve(self, client: aiomqtt.Client) -> None:
        ems = self._section.ems
        await client.subscribe(ems.request_topic, qos=1)
        if ems.ems_avail_topic:
            await client.subscribe(ems.ems_avail_topic, qos=1)
        self.connected = True
        log.info("HEDERA EMS session up", request_topic=ems.request_topic)
        self.lifecycle.publish_state()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._send(client))
            async for message in client.messages:
                self._receive(message)

    def _receive(self, message: aiomqtt.Message) -> None:
        ems = self._section.ems
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        if ems.ems_avail_topic and message.topic.matches(ems.ems_avail_topic):
            self.lifecycle.ems_heard()
            text = payload.decode("utf-8", "replace").strip().strip('"').lower()
            self.lifecycle.ems_available(online=text not in {"offline", "false", "0"})
            return
        props = message.properties
        response = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        self.lifecycle.submit(payload, response, correlation)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload, retain, correlation = await self._outbox.get()
            properties = None
            if correlation is not None and self._mqtt.protocol == "5":
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.CorrelationData = correlation
            try:
                await client.publish(topic, payload, qos=1, retain=retain, properties=properties)
            except aiomqtt.MqttError:
                self._outbox.put_nowait((topic, payload, retain, correlation))
                raise
            finally:
                self._outbox.task_done()

    def _client(self) -> aiomqtt.Client:
        mqtt = self._mqtt
        parts = urlsplit(mqtt.url)
        tls = parts.scheme == "mqtts"
        password = mqtt.password.get_secret_value() if mqtt.password is not None else None
        params = aiomqtt.TLSParameters(
            ca_certs=str(mqtt.ca_file) if mqtt.ca_file else None,
            certfile=str(mqtt.cert_file) if mqtt.cert_file else None,
            keyfile=str(mqtt.key_file) if mqtt.key_file else None,
        ) if tls else None  # fmt: skip
        return aiomqtt.Client(
            parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), identifier=self._identifier,
            username=mqtt.username, password=password, keepalive=mqtt.keepalive_s, timeout=mqtt.timeout_s,
            protocol=aiomqtt.ProtocolVersion.V5 if mqtt.protocol == "5" else aiomqtt.ProtocolVersion.V311,
            tls_params=params,
        )  # fmt: skip


def hedera_service(  # noqa: PLR0913 - the gateway's parts the adapter needs
    settings: Settings,
    model: ModelSpec,
    doc: SclDocument,
    intents: Intents,
    shares: Mapping[str, ActorSlots],
    *,
    registry: CollectorRegistry,
    clock: Callable[[], float],
    audit: Callable[[AuditEntry], None] | None = None,
) -> HederaService | None:
    """The adapter when `[hedera]` is enabled; its secret is read (and its file's mode checked) here."""
    section = settings.hedera
    if not section.enabled:
        return None
    share = shares.get(PROTOCOL)
    found = targets(section, model, doc, share)
    assert share is not None  # `targets` refuses a missing share
    return HederaService(section, settings.mqtt, settings.gateway.id, found, intents, share.band,
                         state_dir=settings.storage.state_dir, registry=registry, clock=clock,
                         audit=audit)  # fmt: skip
