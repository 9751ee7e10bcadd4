"""The MQTT driver: each device's intents and plans as `ctl/set` and `ctl/plan`; device data back.

All state lives on the event loop. The device layer hands over intents (`apply`) and plans (`apply_plan`);
acks, availability and measurements go back to it as health and measurements (`DeviceReports`). With
`compat_fledge` the composition root also feeds `on_output` with the scheduler's `OutputChanged` events,
for the FledgePower pivot topics.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from relevent.errors import ConfigError
from relevent.lan.driver import (
    DeviceHealth,
    DeviceIntent,
    DevicePlan,
    DeviceReports,
    HealthReport,
    MeterReading,
)
from relevent.lan.mqtt import compat
from relevent.lan.mqtt.acks import AckTracker, HealthChange
from relevent.lan.mqtt.admission import MessageAdmission, RateLimit
from relevent.lan.mqtt.config import MqttBridgeConfig
from relevent.lan.mqtt.connection import BrokerSession, Outbox, OutMessage
from relevent.lan.mqtt.device_commands import CommandFactory
from relevent.lan.mqtt.ems import ExtensionRequests
from relevent.lan.mqtt.ha import HaDiscovery, HaEntities
from relevent.lan.mqtt.inbound import InboundError, InboundRouter
from relevent.lan.mqtt.metrics import BridgeMetrics
from relevent.lan.mqtt.payloads import (
    Ack,
    Availability,
    Command,
    DeviceState,
    GatewayStatus,
    Measurement,
    utc,
)
from relevent.lan.mqtt.plan import plan_payload
from relevent.lan.mqtt.seams import ExtensionRequestHandler, SpoofingSink
from relevent.lan.mqtt.topics import Topics, within
from relevent.lan.mqtt.view import DeviceView
from relevent.lan.plan import ForecastSource, forecast_all
from relevent.lan.registry import Device, DeviceRegistry
from relevent.scheduler.events import OutputChanged

log = structlog.get_logger(__name__)


class MqttBridge:
    """Commands, plans, acks, measurements and the gateway status over one broker session.

    `registry` holds the devices this driver serves; `forecasts` feeds the Fledge compatibility topics.
    """

    protocol = "mqtt"

    def __init__(  # noqa: PLR0913 - the seams the composition root provides, all but config optional
        self,
        config: MqttBridgeConfig,
        registry: DeviceRegistry,
        *,
        metrics_registry: CollectorRegistry,
        forecasts: ForecastSource | None = None,
        spoofing: SpoofingSink | None = None,
        extension_handler: ExtensionRequestHandler | None = None,
        ha: HaEntities | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.registry = registry
        self.metrics = BridgeMetrics(metrics_registry)
        self._topics = Topics(config.mqtt.root, config.gateway_id)
        self._forecasts = forecasts
        self._spoofing = spoofing
        self._clock = clock
        self._commands = CommandFactory(config.mqtt.command_validity_s, clock)
        self._acks = AckTracker(config.mqtt.ack_timeout_s, time.monotonic)
        self._intents: dict[str, DeviceIntent] = {}
        self._plans: dict[str, DevicePlan] = {}
        self._fallback: dict[str, bool] = {}
        self._reports: DeviceReports | None = None
        self._stop = asyncio.Event()
        self._outbox = Outbox()
        self.views = {d.id: DeviceView(d.id, d.device_class) for d in registry}
        self._link_lost: float | None = clock()  # when the broker link went down; None while it is up
        self._ha = None if ha is None else (
            HaDiscovery(self._topics, config.gateway_id, config.version, config.mqtt.ha_discovery_prefix, ha)
        )  # fmt: skip
        self._ha_states: dict[str, OutMessage] = {}  # the entities' latest states, again after a reconnect
        requests = None
        if config.mqtt.ems_request_topic is not None and config.mqtt.ems_reply is not None:
            if extension_handler is None:
                raise ConfigError("ems_request_topic is set but no extension request handler was given")
            prefix, trees = config.mqtt.ems_reply_prefix, self._topics.published_trees
            if prefix is not None and any(within(prefix, tree) or within(tree, prefix) for tree in trees):
                raise ConfigError(
                    f"ems_reply_prefix {prefix!r} overlaps the gateway's topics {trees}: "
                    "a request could make the gateway publish there"
                )
            requests = ExtensionRequests(
                config.mqtt.ems_request_topic,
                reply_topic=config.mqtt.ems_reply,
                reply_prefix=config.mqtt.ems_reply_prefix,
                handler=extension_handler,
                outbox=self._outbox,
                metrics=self.metrics,
                clock=clock,
            )
        router = InboundRouter(self._topics, registry, self, self.metrics, requests)
        mqtt = config.mqtt
        admission = MessageAdmission(
            self._topics,
            (device.id for device in registry),
            RateLimit(mqtt.device_msg_rate, mqtt.device_msg_burst),
            self.metrics,
            own_topics={requests.topic: RateLimit(mqtt.ems_request_rate, mqtt.ems_request_burst)}
            if requests
            else {},
        )
        offline = GatewayStatus(state="offline").model_dump_json(exclude_none=True).encode()
        self._session = BrokerSession(
            config.broker,
            client_id=f"relevent-gw-{config.gateway_id}",
            will=OutMessage(self._topics.status, offline, retain=True),
            subscriptions=router.subscriptions(),
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_message=router.handle,
            admit=admission.admit,
            outbox=self._outbox,
            metrics=self.metrics,
        )

    # --- entry points of the device layer and the composition root ------------------------------------

    async def run(self, reports: DeviceReports) -> None:
        """Serve until `stop` (or cancellation); the gateway status turns offline on the way out."""
        self._reports = reports
        loops: list[Coroutine[Any, Any, None]] = [
            self._session.run(),
            self._session.publish_loop(),
            self._ack_loop(),
        ]
        if self._forecasts is not None and self.config.mqtt.compat_fledge:
            loops.append(self._compat_schedule_loop(self._forecasts))
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(loop) for loop in loops]
            await self._stop.wait()
            for task in tasks:
                task.cancel()

    def stop(self) -> None:
        """Make `run` return after announcing the gateway offline."""
        self._stop.set()

    def apply(self, intent: DeviceIntent) -> None:
        """The device's newest intent: published as its next command (a newer one replaces it unsent)."""
        device = self.registry.get(intent.device_id)
        if device is None:
            log.warning("mqtt_unknown_device", device=intent.device_id)
            return
        self._intents[device.id] = intent
        self._queue_command(device)

    def apply_plan(self, plan: DevicePlan) -> None:
        """The device's newest plan: published retained."""
        if self.registry.get(plan.device_id) is None:
            log.warning("mqtt_unknown_device", device=plan.device_id)
            return
        self._plans[plan.device_id] = plan
        self._queue_plan(plan.device_id)

    def on_output(self, event: OutputChanged) -> None:
        """A controller output changed: its Home Assistant state and FledgePower pivot command (when on)."""
        if self._ha is not None:
            self._ha_state(self._ha.controller_state(event))
        if self.config.mqtt.compat_fledge:
            command = compat.pivot_command(event.controller, event.value, event.timestamp)
            if command is not None:
                message = OutMessage(compat.COMMAND_TOPIC, compat.dump(command))
                self._outbox.put_message(f"compat-command:{event.controller}", message)

    def on_health(self, device_id: str, health: DeviceHealth) -> None:
        """A device's health changed (any protocol's, from the device layer): its Home Assistant state."""
        if self._ha is not None:
            self._ha_state(self._ha.health_state(device_id, health, self._clock()))

    def device_healthy(self, device_id: str) -> bool:
        """Whether the device answers its commands."""
        return self._acks.healthy(device_id)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._session.connected

    def device_status(self) -> list[dict[str, Any]]:
        """Every device as the status page shows it: what was last seen, how old it is, what is stale.

        A datum is stale once older than the commands' validity (`validity_s`): by then a device without
        a fresh command has fallen back, and a measurement that old no longer describes the device.
        """
        now, validity_s = self._clock(), self.config.mqtt.command_validity_s
        return [view.as_json(now, validity_s, self._link_lost) for view in self.views.values()]

    # --- device inputs (called by the inbound router) ------------------------------------------------

    def handle_ack(self, device: Device, ack: Ack) -> None:
        """Match the ack to its command; a rejection or a missing ack makes the device unhealthy."""
        matched, change = self._acks.acked(device.id, ack.id, ack.result)
        if not matched:
            sent_to = self._acks.addressee(ack.id)
            if sent_to is not None:  # only `sent_to` got this id: it (or its credential) speaks for another
                if self._spoofing is not None:
                    self._spoofing.on_spoofed(device.id, sent_to, self._topics.ack(device.id))
                raise InboundError("spoofed", f"ack of {sent_to}'s command {ack.id} on {device.id}'s topic")
            raise InboundError("unknown_command", str(ack.id))
        self.metrics.acks.labels(device.id, ack.result).inc()
        self.views[device.id].ack = {"id": str(ack.id), "result": ack.result, "reason": ack.reason,
                                     "at": self._clock()}
        if ack.result == "rejected":
            log.warning(
                "command rejected by device", device=device.id, command=str(ack.id), reason=ack.reason
            )
        self._report_health(change)
        self._report(HealthReport(device.id, _ACK_HEALTH[ack.result], detail=ack.reason or ""))

    def handle_measurement(self, device: Device, measurement: Measurement) -> None:
        """Metrics, and the device layer (the device's MMXU mirror, its status)."""
        self.metrics.power.labels(device.id).set(measurement.w)
        view = self.views[device.id]
        view.measurement, view.measurement_at = measurement, self._clock()
        if measurement.var is not None:
            self.metrics.reactive_power.labels(device.id).set(measurement.var)
        if measurement.soc_pct is not None:
            self.metrics.soc.labels(device.id).set(measurement.soc_pct / 100.0)
        if self._reports is not None:
            self._reports.on_measurement(
                MeterReading(device.id, measurement.ts.timestamp(), measurement.w, measurement.var,
                             measurement.soc_pct)
            )  # fmt: skip

    def handle_state(self, device: Device, state: DeviceState) -> None:
        """Track whether the device runs its own fail-safe."""
        self.metrics.device_fallback.labels(device.id).set(int(state.fallback))
        if self._fallback.get(device.id, False) != state.fallback:
            log.warning("device fallback changed", device=device.id, fallback=state.fallback)
        self._fallback[device.id] = state.fallback
        view = self.views[device.id]
        view.fallback, view.fallback_at = state.fallback, self._clock()

    def handle_availability(self, device: Device, availability: Availability) -> None:
        """A device that comes online gets its current command at once."""
        online = availability.state == "online"
        view = self.views[device.id]
        view.online, view.online_at = online, self._clock()
        self.metrics.device_online.labels(device.id).set(int(online))
        log.info("device availability", device=device.id, state=availability.state)
        if online:
            self._queue_command(device)
        else:
            self._report(HealthReport(device.id, DeviceHealth.UNREACHABLE, detail="offline"))

    # --- internals -------------------------------------------------------------------------------------

    def _on_connected(self) -> None:
        """After every (re)connect: commands first, then the status and the retained plans."""
        self._link_lost = None
        for device in self.registry:
            self._queue_command(device)
        self._outbox.put("status", self._status_message)
        for device_id in self._plans:
            self._queue_plan(device_id)
        if self._ha is not None:
            for message in self._ha.configs():
                self._outbox.put_message(f"ha:{message.topic}", message)
            for message in self._ha_states.values():
                self._outbox.put_message(f"ha:{message.topic}", message)

    def _ha_state(self, message: OutMessage | None) -> None:
        if message is not None:
            self._ha_states[message.topic] = message
            self._outbox.put_message(f"ha:{message.topic}", message)

    def _on_disconnected(self) -> None:
        self._link_lost = self._clock()

    def _status_message(self) -> OutMessage:
        status = GatewayStatus(state="online", ts=utc(self._clock()), version=self.config.version)
        return OutMessage(self._topics.status, status.model_dump_json().encode(), retain=True)

    def _queue_command(self, device: Device) -> None:
        if device.id in self._intents:
            self._outbox.put(f"command:{device.id}", partial(self._command_message, device))

    def _command_message(self, device: Device) -> OutMessage:
        command = self._commands.build(self._intents[device.id])
        return OutMessage(
            self._topics.command(device.id),
            command.model_dump_json().encode(),
            expiry_s=math.ceil(self.config.mqtt.command_validity_s),
            response_topic=self._topics.ack(device.id),
            correlation=command.id.bytes,
            on_published=partial(self._command_sent, device, command),
        )

    def _command_sent(self, device: Device, command: Command) -> None:
        view = self.views[device.id]
        view.command, view.command_sent = command, self._clock()
        self._acks.sent(device.id, command.id)
        self.metrics.commands_sent.labels(device.id).inc()

    def _queue_plan(self, device_id: str) -> None:
        self._outbox.put(f"plan:{device_id}", partial(self._plan_message, device_id))

    def _plan_message(self, device_id: str) -> OutMessage:
        plan = plan_payload(self._plans[device_id], self._clock())
        return OutMessage(
            self._topics.plan(device_id),
            plan.model_dump_json().encode(),
            retain=True,
            on_published=self.metrics.plans_published.labels(device_id).inc,
        )

    def _report_health(self, change: HealthChange | None) -> None:
        if change is None:
            return
        self.views[change.device_id].healthy = change.healthy
        self.metrics.device_healthy.labels(change.device_id).set(int(change.healthy))

    def _report(self, report: HealthReport) -> None:
        if self._reports is not None:
            self._reports.on_health(report)

    async def _ack_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.mqtt.ack_timeout_s / 4)
            for device_id, command_id, change in self._acks.expire():
                self.metrics.acks_missing.labels(device_id).inc()
                log.warning("command not acknowledged", device=device_id, command=str(command_id))
                self._report_health(change)
                self._report(HealthReport(device_id, DeviceHealth.NOT_ACKNOWLEDGED, detail="no ack"))

    async def _compat_schedule_loop(self, source: ForecastSource) -> None:
        while True:
            start = self._clock()
            end = start + self.config.mqtt.plan_horizon_s
            forecasts = await forecast_all(source, self.registry.controllers, start, end)
            for ref, points in (forecasts or {}).items():
                schedule = compat.pivot_schedule(ref, ((p.time, p.value) for p in points))
                if schedule is not None:
                    message = OutMessage(compat.SCHEDULE_TOPIC, compat.dump(schedule))
                    self._outbox.put_message(f"compat-schedule:{ref}", message)
            await asyncio.sleep(self.config.mqtt.compat_schedule_period_s)


_ACK_HEALTH = {
    "accepted": DeviceHealth.APPLIED,
    "clamped": DeviceHealth.CLAMPED,
    "rejected": DeviceHealth.REJECTED,
}
