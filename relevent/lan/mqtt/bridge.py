"""The MQTT bridge: controller outputs -> one command stream per device; device data -> the gateway.

All state lives on the event loop. The composition root feeds `on_output` with the scheduler's
`OutputChanged` events (the current output of every controller before `run`, then every change), calls
`refresh_plans` when a forecast may have changed, and runs `run` in its TaskGroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from relevent.errors import ConfigError
from relevent.lan.mqtt import compat
from relevent.lan.mqtt.acks import AckTracker, HealthChange
from relevent.lan.mqtt.admission import MessageAdmission, RateLimit
from relevent.lan.mqtt.config import MqttBridgeConfig
from relevent.lan.mqtt.connection import BrokerSession, Outbox, OutMessage
from relevent.lan.mqtt.device_commands import CommandFactory
from relevent.lan.mqtt.ems import ExtensionRequests
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
from relevent.lan.mqtt.plan import PlanSteps, plan_payload, plan_steps
from relevent.lan.mqtt.seams import (
    DeviceMeasurement,
    ExtensionRequestHandler,
    ForecastSource,
    HealthSink,
    MeasurementSink,
    SpoofingSink,
)
from relevent.lan.mqtt.topics import Topics, within
from relevent.lan.mqtt.view import DeviceView
from relevent.lan.registry import Device, DeviceRegistry, build_registry
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.forecast import ForecastPoint
from relevent.scl.model import SclDocument
from relevent.timing import PLAN_SETTLE_S

log = structlog.get_logger(__name__)


class MqttBridge:
    """Commands, plans, acks, measurements and the gateway status over one broker session."""

    def __init__(  # noqa: PLR0913 - the seams the composition root provides, all but config optional
        self,
        config: MqttBridgeConfig,
        registry: DeviceRegistry,
        *,
        metrics_registry: CollectorRegistry,
        forecasts: ForecastSource | None = None,
        measurements: MeasurementSink | None = None,
        health: HealthSink | None = None,
        spoofing: SpoofingSink | None = None,
        extension_handler: ExtensionRequestHandler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.registry = registry
        self.metrics = BridgeMetrics(metrics_registry)
        self._topics = Topics(config.mqtt.root, config.gateway_id)
        self._forecasts = forecasts
        self._measurements = measurements
        self._health = health
        self._spoofing = spoofing
        self._clock = clock
        self._commands = CommandFactory(config.mqtt.command_validity_s, clock)
        self._acks = AckTracker(config.mqtt.ack_timeout_s, time.monotonic)
        self._outputs: dict[str, OutputChanged] = {}
        self._plans: dict[str, PlanSteps] = {}
        self._fallback: dict[str, bool] = {}
        self._plans_stale = asyncio.Event()
        self._stop = asyncio.Event()
        self._outbox = Outbox()
        self.views = {d.id: DeviceView(d.id, d.device_class) for d in registry}
        self._link_lost: float | None = clock()  # when the broker link went down; None while it is up
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

    @classmethod
    def from_scl(cls, config: MqttBridgeConfig, doc: SclDocument, **seams: Any) -> MqttBridge:
        """Build the device registry from the model and `config.devices`, then the bridge."""
        return cls(config, build_registry(doc, config.devices), **seams)

    # --- entry points of the composition root -------------------------------------------------------

    async def run(self) -> None:
        """Serve until `stop` (or cancellation); the gateway status turns offline on the way out."""
        loops: list[Coroutine[Any, Any, None]] = [
            self._session.run(),
            self._session.publish_loop(),
            self._heartbeat_loop(),
            self._ack_loop(),
        ]
        if self._forecasts is not None:
            loops.append(self._plan_loop(self._forecasts))
            if self.config.mqtt.compat_fledge:
                loops.append(self._compat_schedule_loop(self._forecasts))
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(loop) for loop in loops]
            await self._stop.wait()
            for task in tasks:
                task.cancel()

    def stop(self) -> None:
        """Make `run` return after announcing the gateway offline."""
        self._stop.set()

    def on_output(self, event: OutputChanged) -> None:
        """A controller output changed: every device following it gets a new command at once."""
        self._outputs[event.controller] = event
        for device, _ in self.registry.followers(event.controller):
            self._queue_command(device)
        if self.config.mqtt.compat_fledge:
            command = compat.pivot_command(event.controller, event.value, event.timestamp)
            if command is not None:
                message = OutMessage(compat.COMMAND_TOPIC, compat.dump(command))
                self._outbox.put_message(f"compat-command:{event.controller}", message)

    def refresh_plans(self) -> None:
        """A forecast may have changed (a schedule was written, enabled, disabled): recompute the plans."""
        self._plans_stale.set()

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

    def handle_measurement(self, device: Device, measurement: Measurement) -> None:
        """Metrics, and the measurement sink (for the device's MMXU mirror)."""
        self.metrics.power.labels(device.id).set(measurement.w)
        view = self.views[device.id]
        view.measurement, view.measurement_at = measurement, self._clock()
        if measurement.var is not None:
            self.metrics.reactive_power.labels(device.id).set(measurement.var)
        if measurement.soc_pct is not None:
            self.metrics.soc.labels(device.id).set(measurement.soc_pct)
        if self._measurements is not None:
            self._measurements.on_measurement(
                DeviceMeasurement(
                    device_id=device.id,
                    mmxu_ref=device.mmxu_ref,
                    ts=measurement.ts.timestamp(),
                    w=measurement.w,
                    var=measurement.var,
                    soc_pct=measurement.soc_pct,
                )
            )

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

    # --- internals -------------------------------------------------------------------------------------

    def _on_connected(self) -> None:
        """After every (re)connect: commands first, then the status and the retained plans."""
        self._link_lost = None
        for device in self.registry:
            self._queue_command(device)
        self._outbox.put("status", self._status_message)
        for device_id in self._plans:
            self._queue_plan(device_id)

    def _on_disconnected(self) -> None:
        self._link_lost = self._clock()

    def _status_message(self) -> OutMessage:
        status = GatewayStatus(state="online", ts=utc(self._clock()), version=self.config.version)
        return OutMessage(self._topics.status, status.model_dump_json().encode(), retain=True)

    def _queue_command(self, device: Device) -> None:
        self._outbox.put(f"command:{device.id}", partial(self._command_message, device))

    def _command_message(self, device: Device) -> OutMessage:
        command = self._commands.build(device, self._outputs)
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
        log.warning("device health changed", device=change.device_id, healthy=change.healthy)
        if self._health is not None:
            self._health.on_health(change.device_id, change.healthy)

    async def _forecast_all(self, source: ForecastSource) -> dict[str, Sequence[ForecastPoint]] | None:
        """Every followed controller's forecast from now over the plan horizon (None if one fails).

        One controller at a time, the loop turning in between: a large site's forecasts, computed in one go,
        held the next entry boundary's device commands back (docs/performance.md).
        """
        start = self._clock()
        end = start + self.config.mqtt.plan_horizon_s
        forecasts: dict[str, Sequence[ForecastPoint]] = {}
        for ref in self.registry.controllers:
            await asyncio.sleep(0)
            try:
                forecasts[ref] = source.forecast(ref, start, end)
            except Exception:  # a failing forecast must not stop the commands; the last plans stay
                log.exception("forecast failed", controller=ref)
                return None
        return forecasts

    async def _update_plans(self, source: ForecastSource) -> None:
        forecasts = await self._forecast_all(source)
        if forecasts is None:
            return
        for device in self.registry:
            steps = plan_steps(device, forecasts)
            if _plan_key(steps) != _plan_key(self._plans.get(device.id, ())):
                self._plans[device.id] = steps
                self._queue_plan(device.id)

    async def _plan_loop(self, source: ForecastSource) -> None:
        while True:
            await self._update_plans(source)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.mqtt.plan_refresh_s):
                    await self._plans_stale.wait()
                # SCADA programs a schedule item by item: recompute after a burst of writes, not after each
                # one (with many devices a recomputation costs far more than a write and starves MMS).
                await asyncio.sleep(PLAN_SETTLE_S)
            self._plans_stale.clear()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.mqtt.heartbeat_s)
            for device in self.registry:
                self._queue_command(device)

    async def _ack_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.mqtt.ack_timeout_s / 4)
            for device_id, command_id, change in self._acks.expire():
                self.metrics.acks_missing.labels(device_id).inc()
                log.warning("command not acknowledged", device=device_id, command=str(command_id))
                self._report_health(change)

    async def _compat_schedule_loop(self, source: ForecastSource) -> None:
        while True:
            for ref, points in (await self._forecast_all(source) or {}).items():
                schedule = compat.pivot_schedule(ref, ((p.time, p.value) for p in points))
                if schedule is not None:
                    message = OutMessage(compat.SCHEDULE_TOPIC, compat.dump(schedule))
                    self._outbox.put_message(f"compat-schedule:{ref}", message)
            await asyncio.sleep(self.config.mqtt.compat_schedule_period_s)


def _plan_key(steps: PlanSteps) -> object:
    """What makes two plans different: the start of the first step moves with the clock and does not count."""
    return (steps[0][1], steps[1:]) if steps else ()
