"""The composition root: configuration -> SCL model -> scheduler and adapters, run in one TaskGroup.

Data flows one way: MMS requests -> scheduler commands; scheduler events -> the MMS model mirror and the
device commands; device measurements -> the MMS model (MMXU) and the metrics. Adapters never import each
other: this module wires them.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Info, PlatformCollector, ProcessCollector

from relevent import __version__
from relevent.access import (
    actor_rights,
    actor_slots,
    device_bindings,
    mms_credentials,
    mms_host,
    mms_limits,
    mms_tls,
)
from relevent.config import DeviceEntry, MqttSection, PolicyEntry, Settings
from relevent.errors import ConfigError, ReleventError, StartupError, one_error
from relevent.heap import full_collections, long_lived_heap, release_free_c_heap
from relevent.instance import reserve_port, state_lock
from relevent.lan.drivers import build_drivers
from relevent.lan.layer import DeviceLayer, DeviceTiming
from relevent.lan.mqtt import MqttBridge, MqttBridgeConfig
from relevent.lan.mqtt.ems_slot import EmsSlot
from relevent.lan.mqtt.ha import ha_entities
from relevent.lan.ocpp.driver import OcppDriver
from relevent.lan.registry import build_registry
from relevent.lan.sinks import DeviceMeasurement
from relevent.obs.audit import AuditLog
from relevent.obs.audit_anchor import ANCHOR_FILE, Anchor
from relevent.obs.audit_api import add_audit_routes
from relevent.obs.audit_key import audit_key
from relevent.obs.audit_store import AUDIT_FILE, AuditError, AuditStore
from relevent.obs.health import Readiness
from relevent.obs.http import BadRequests, HttpEndpoint, build_app
from relevent.obs.live import SharedSections, add_live_routes
from relevent.obs.metrics import SchedulerMetrics
from relevent.obs.schedule_api import add_schedule_routes
from relevent.obs.status import StatusView
from relevent.obs.systemd import run_watchdog, sd_notify, watchdog_period
from relevent.obs.task_dump import install_task_dump, remove_task_dump
from relevent.refs import full_ref
from relevent.scheduler.clock import SystemClock
from relevent.scheduler.commands import Actor
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, AttributeValue, Event, OutputChanged
from relevent.scheduler.intents import Intents
from relevent.scheduler.policy import Lockable, SchedulePolicy
from relevent.scheduler.reserves import ReserveValues
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.store import SqliteStore, StoreError
from relevent.scl.model import SclDocument
from relevent.scl.parse import load
from relevent.triggers import LocalTriggers, resolve_triggers
from relevent.turns import OncePerTurn
from relevent.wan.hedera.service import HederaService, hedera_service, targets
from relevent.wan.iec104 import service as iec104
from relevent.wan.iec104.outstation import Outstation
from relevent.wan.mms import GuardSettings, MmsServer, MmsSettings, ServerCreation, ThrottleSettings
from relevent.wan.mms.binding import SchedulerBinding

log = structlog.get_logger(__name__)

STORE_FILE = "scheduler.sqlite3"
SHUTDOWN_GRACE_S = 5.0
# The engine's timer more than this past its instant means a wedged core: withhold the watchdog ping.
WEDGED_AFTER_S = 10.0


class _Shutdown(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the TaskGroup to cancel every service when a stop signal arrives."""


def describe_model(doc: SclDocument) -> dict[str, object]:
    """A one-line summary of a parsed model for the start-up log."""
    classes = Counter(ln.ln_class for _, _, ln in doc.logical_nodes())
    return {
        "scl": doc.path,
        "ieds": [ied.name for ied in doc.ieds],
        "ldevices": sum(len(ied.ldevices) for ied in doc.ieds),
        "schedules": classes.get("FSCH", 0),
        "controllers": classes.get("FSCC", 0),
        "logical_nodes": sum(classes.values()),
    }


def create_state_dir_and_load_scl(settings: Settings) -> SclDocument:
    """Everything that can fail before the loop starts: the state directory and the SCL model."""
    try:
        settings.storage.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        state_dir = settings.storage.state_dir
        raise ConfigError(f"state directory {state_dir} is not usable: {exc.strerror}") from None
    return load(settings.scl.path)


def check(settings: Settings, doc: SclDocument) -> None:
    """Everything `check-config` can verify without binding a port: policies and device bindings."""
    spec = model_spec(doc)
    resolve_triggers(settings.local_triggers, spec, schedule_policies(settings.policy, spec))
    shares = actor_slots(settings, spec)
    devices = build_registry(doc, settings.devices)
    if settings.hedera.enabled:
        targets(settings.hedera, spec, doc, shares.get("hedera"))
    iec104.check(settings.iec104, spec, shares, [device.id for device in devices])


def schedule_policies(entries: tuple[PolicyEntry, ...], model: ModelSpec) -> dict[str, SchedulePolicy]:
    """`[[policy]]` entries by full schedule reference; an entry naming no schedule is a config error."""
    known = {s.ref for s in model.schedules}
    policies: dict[str, SchedulePolicy] = {}
    for entry in entries:
        if entry.schedule is None:  # an actor's rights: see `actor_rights`
            continue
        ref = full_ref(entry.schedule, model.ied_name)
        if ref not in known:
            raise ConfigError(f"[[policy]] names {entry.schedule!r}, which is not a schedule of the model")
        policies[ref] = SchedulePolicy(
            locked=frozenset(Lockable(name) for name in entry.locked), control_locked=entry.lock_enable
        )
    return policies


def bridge_config(settings: Settings) -> MqttBridgeConfig:
    """The MQTT bridge's view of `[gateway]` and `[mqtt]`."""
    return MqttBridgeConfig(settings.gateway.id, settings.mqtt)


def device_timing(mqtt: MqttSection) -> DeviceTiming:
    """The device contract's timing, set in `[mqtt]`, for the devices of every protocol."""
    return DeviceTiming(mqtt.heartbeat_s, mqtt.command_validity_s, mqtt.plan_horizon_s, mqtt.plan_refresh_s)


def mms_settings(settings: Settings) -> MmsSettings:
    """The MMS server's view of `[mms]` and `[[actors]]`."""
    mms = settings.mms
    return MmsSettings(
        host=mms_host(mms),
        port=mms.port,
        reports=mms.reports,
        serve=mms.serve,
        tls=mms_tls(mms),
        credentials=mms_credentials(mms, settings.actors),
        guard=GuardSettings(mms.association_timeout_s, mms.tls_handshake_timeout_s),
        limits=mms_limits(mms, settings.actors),
        throttle=ThrottleSettings(delay_s=mms.auth_failure_delay_s, max_delay_s=mms.auth_failure_max_delay_s),
    )


def ems_handler(
    mqtt: MqttSection,
    engine: Engine,
    doc: SclDocument,
    devices: tuple[DeviceEntry, ...] = (),
    intents: Intents | None = None,
) -> EmsSlot | None:
    """The EMS request handler when `[mqtt] ems_request_topic` is set; it needs `ems_slot`.

    Its requests are bounded by the limits of the `devices` that follow the slot.
    """
    if mqtt.ems_request_topic is None:
        return None
    if mqtt.ems_slot is None:
        raise ConfigError("[mqtt] ems_request_topic is set but ems_slot, the schedule it writes, is not")
    topic, slot = mqtt.ems_request_topic, mqtt.ems_slot
    return EmsSlot.from_scl(
        engine, doc, slot, priority=mqtt.ems_priority, peer=topic, devices=build_registry(doc, devices),
        intents=intents,
    )


def open_audit(settings: Settings, registry: CollectorRegistry) -> AuditLog:
    """The audit trail in the state directory, keyed (without a configured key, one generated there)."""
    state_dir, section = settings.storage.state_dir, settings.audit
    try:
        key = audit_key(section.secret(), state_dir, create=True)
        store = AuditStore(state_dir / AUDIT_FILE, key)
    except AuditError as exc:
        raise StartupError(str(exc)) from None
    anchor = Anchor(state_dir / ANCHOR_FILE, key)
    return AuditLog(store, anchor, registry, fold_window_s=section.fold_window_s,
                    retention_days=section.retention_days or None)  # fmt: skip


class Gateway:
    """Every service of one gateway process and the wiring between them.

    Constructing it only works out the configuration (no file, socket, thread or task); `run` opens, starts
    and serves everything in order and unwinds it in reverse.
    """

    # Opened by `run` (`_open`): each holds a file, a thread or the engine's timer.
    audit: AuditLog
    engine: Engine
    binding: SchedulerBinding
    triggers: LocalTriggers
    bridge: MqttBridge
    devices: DeviceLayer
    http: HttpEndpoint
    _creation: ServerCreation

    def __init__(self, settings: Settings, doc: SclDocument) -> None:
        self.settings = settings
        self.doc = doc
        self.registry = CollectorRegistry()
        # The process's CPU, memory and file descriptors, the Python build, and the gateway's version.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Info("relevent_build", "the gateway's version", registry=self.registry).info({"version": __version__})
        self.readiness = Readiness()
        self.clock = SystemClock()
        self.spec = model_spec(doc)
        self.metrics = SchedulerMetrics(self.registry, self.spec.controllers)
        self.policies = schedule_policies(settings.policy, self.spec)
        self._mms_settings = mms_settings(settings)
        self._building: Future[MmsServer] | None = None  # see `start_mms`
        self.mms: MmsServer | None = None  # once listening, with the scheduler mirrored into it
        self.hedera: HederaService | None = None  # `[hedera]` enabled: opened with the engine
        self.iec104: Outstation | None = None  # `[iec104]` enabled: opened with the engine
        self.readiness.add("scl_loaded", lambda: True)
        self.readiness.add("mms_listening", lambda: self.mms is not None)
        self.readiness.add("mqtt_connected", lambda: self.bridge.connected)
        self.readiness.add("audit_writable", lambda: self.audit.writable)

    async def run(self, stop: asyncio.Event) -> None:
        """Start every service, serve until `stop` is set, stop them in order, then close what was opened.

        The state directory's lock and every listening port come first: a second instance stops with a
        clear error before it talks to any device (or takes the broker session of the running one). Then the
        scheduler resumes from its store, the devices are served, MMS listens, and systemd hears READY.
        """
        settings = self.settings
        with ExitStack() as opened:
            opened.enter_context(state_lock(settings.storage.state_dir))
            mms_port = opened.enter_context(reserve_port(settings.mms.host, settings.mms.port, "MMS"))
            with long_lived_heap():
                self._open(opened)
                self.start()
            await _start(self.http.start(), f"HTTP endpoint {settings.http.host}:{settings.http.port}")
            with every_failure_reported():
                await self._serve(mms_port, stop)

    def _open(self, opened: ExitStack) -> None:
        """Open the audit trail and the store, start the engine and build the services around it.

        Each is closed by `opened`, in reverse, also when a later one cannot open.
        """
        settings, doc, spec = self.settings, self.doc, self.spec
        self.audit = open_audit(settings, self.registry)
        opened.callback(self.audit.close)
        store = SqliteStore(settings.storage.state_dir / STORE_FILE)
        self.engine = Engine(
            spec, clock=self.clock, store=store, policies=self.policies, rights=actor_rights(settings, spec)
        )
        self._start_engine(store.lost)
        # The one door for every upstream adapter that does not speak MMS (the EMS slot's too).
        shares = actor_slots(settings, spec)
        self.intents = Intents(self.engine, shares, now=self.clock.now,
                               devices=device_bindings(settings.devices, spec))  # fmt: skip
        self.hedera = hedera_service(
            settings, spec, doc, self.intents, shares, registry=self.registry, clock=self.clock.now,
            audit=self.audit.record,
        )  # fmt: skip
        if self.hedera is not None:  # firm capacity in force (HEDERA or the EMS lost) is no normal service
            self.readiness.add("hedera_grants_trusted", lambda: not (self.hedera and self.hedera.degraded))
        self.binding = SchedulerBinding(self.engine, doc, spec.ied_name)
        self.binding.start_mirroring()
        # The association count is polled (see relevent/triggers.py).
        self.triggers = LocalTriggers(
            self.engine,
            resolve_triggers(settings.local_triggers, spec, self.policies),
            clients=lambda: self.mms.associations if self.mms else 0,
            clock=self.clock,
        )
        ems = ems_handler(settings.mqtt, self.engine, doc, settings.devices, self.intents)
        devices = build_registry(doc, settings.devices)
        self.bridge = MqttBridge(
            bridge_config(settings), devices.of_protocol(MqttBridge.protocol), metrics_registry=self.registry,
            forecasts=self.engine, spoofing=self, extension_handler=ems,
            ha=ha_entities(spec.controllers, devices) if settings.mqtt.ha_discovery else None,
        )
        drivers = build_drivers(settings, devices, self.bridge, self.registry)
        ocpp = drivers.get(OcppDriver.protocol)
        if isinstance(ocpp, OcppDriver):  # stations dial in: their port is the gateway's from the start
            ocpp.reserved = opened.enter_context(reserve_port(settings.ocpp.host, settings.ocpp.port, "OCPP"))
        self.devices = DeviceLayer(
            devices, drivers, device_timing(settings.mqtt),
            metrics_registry=self.registry, forecasts=self.engine, reserves=ReserveValues(self.engine).value,
            measurements=self, health=self.bridge,
        )
        self._plans = OncePerTurn(self.devices.refresh_plans)  # one write or enable emits many events
        self.iec104 = iec104.iec104_service(
            settings.iec104, self.engine, self.intents, shares, devices=self.devices,
            device_ids=[d.id for d in devices], registry=self.registry, clock=self.clock.now,
            refused=self.audit.refused,
        )  # fmt: skip
        if self.iec104 is not None:
            section = settings.iec104
            self.iec104.reserved = opened.enter_context(reserve_port(section.host, section.port, "IEC 104"))
        self.status = StatusView(settings.gateway.id, self.engine, self.device_status,
                                 upstream=self.upstream_status)  # fmt: skip
        bad_requests = BadRequests(self.registry)
        web_app = build_app(self.readiness, self.registry, self.status.render, bad_requests,
                            self.status.summary_html)  # fmt: skip
        add_schedule_routes(web_app, self.engine, bad_requests)
        add_audit_routes(web_app, self.audit, bad_requests)
        add_live_routes(web_app, SharedSections(self.status.sections), self.readiness, bad_requests)
        self.http = HttpEndpoint(web_app, settings.http.host, settings.http.port)
        # Then libiec61850's model and server, in a worker thread while the devices are served: started last,
        # as Python work on the loop thread would starve its many short ctypes calls of the GIL.
        self._creation = ServerCreation(doc, self._mms_settings)
        opened.callback(self._close_mms)

    async def _serve(self, mms_port: socket.socket, stop: asyncio.Event) -> None:
        """Run the services in one TaskGroup, the devices first and MMS last, until `stop`."""
        try:
            async with asyncio.TaskGroup() as services:
                # The devices first; the bridge announces the gateway offline on the way out: awaited.
                tasks = [services.create_task(self.bridge.run(self.devices), name="mqtt")]
                for protocol, driver in self.devices.drivers.items():
                    if driver is not self.bridge:
                        services.create_task(driver.run(self.devices), name=protocol)
                services.create_task(self.devices.run(), name="devices")
                services.create_task(self.http.serve(), name="http")
                services.create_task(self.engine.watch_clock(), name="wall-clock")
                services.create_task(self.triggers.run(), name="local-triggers")
                services.create_task(self.audit.run(), name="audit")
                services.create_task(full_collections(self.engine.time_to_next_instant), name="gc")
                period = watchdog_period()
                if period is not None:
                    services.create_task(run_watchdog(period, self.healthy), name="watchdog")
                if self.hedera is not None:
                    tasks.append(services.create_task(self.hedera.run(), name="hedera"))
                if self.iec104 is not None:
                    services.create_task(self.iec104.run(), name="iec104")
                log.info("devices served", devices=len(self.devices.registry),
                         protocols=sorted(self.devices.drivers))  # fmt: skip
                mms = await self.start_mms(mms_port)
                release_free_c_heap()  # start-up is over: what it freed need not stay resident
                tasks.append(services.create_task(mms.serve(self.engine.time_to_next_instant), name="mms"))
                sd_notify(f"READY=1\nSTATUS=serving {len(self.engine.model.schedules)} schedules")
                log.info("gateway running", mms_port=self.settings.mms.port)
                await stop.wait()
                sd_notify("STOPPING=1")
                self.stop()
                # MMS and MQTT return by themselves (the status goes offline); the rest is cancelled.
                await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
                raise _Shutdown  # noqa: TRY301 - the way out of a TaskGroup that cancels every service
        except* _Shutdown:
            pass

    def start(self) -> None:
        """Hand the outputs downstream (sent once MQTT is connected); MMS follows with `start_mms`."""
        now = time.time()
        self.audit.start(now)
        for controller in self.engine.model.controllers:
            output = self.engine.output(controller.ref)
            if output is not None:
                event = OutputChanged(controller.ref, output.value, output.source, output.priority, now)
                self._on_event(event)
        self.engine.subscribe(self._on_event)
        self.engine.subscribe(self.audit.on_event)
        self.intents.subscribe(self.audit.on_intent)
        self.engine.subscribe(self.metrics.on_event)
        for schedule in self.engine.model.schedules:  # the states before any change
            ref = f"{schedule.ref}.SchdSt.stVal"
            state = self.engine.read(ref)
            if isinstance(state, AttributeValue):
                self.metrics.on_event(AttributeChanged(ref, state.value, state.quality_good, state.timestamp))

    async def start_mms(self, reserved: socket.socket) -> MmsServer:
        """Take over the server libiec61850 is creating, bind it in place of `reserved`, mirror the scheduler.

        The devices are served meanwhile: the server object (Python tables of every writable leaf) is made in
        a worker thread as well, as soon as the model is built; `close` waits for it if the gateway stops
        meanwhile. Its tables live as long as the process: built without GC passes, then frozen.
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mms-server")
        with long_lived_heap():
            self._building = pool.submit(self._build_mms)
            pool.shutdown(wait=False)
            mms = await asyncio.wrap_future(self._building)
        self.binding.attach(mms)  # the start-up values first: libiec61850's thread answers reads at once
        reserved.close()  # libiec61850 binds the port itself, at once
        mms.start()
        self.mms = mms
        return mms

    def _build_mms(self) -> MmsServer:
        """The worker thread's part of `start_mms`: the start-up mirror and the server object.

        Both are Python work: they wait for the model (whose ctypes calls they would starve of the GIL) and
        overlap the server's creation (which runs without the GIL).
        """
        self._creation.built()
        self.binding.compute_startup_mirror()
        return MmsServer(self._creation, self.binding, self.registry)

    def _start_engine(self, lost: str | None) -> None:
        """Start the scheduler: its store restored (or the SCL's state), its timer armed.

        Stored state it could not use (`lost`: the store's, then each dropped row) is logged where it is
        found; the audit trail keeps it as well.
        """
        try:
            dropped = self.engine.start()
        except StoreError as exc:
            raise StartupError(f"schedule store in {self.settings.storage.state_dir}: {exc}") from None
        now = time.time()
        if lost is not None:
            self.audit.restore(STORE_FILE, STORE_FILE, "lost", lost, now)
        for ref, problem in dropped.items():
            self.audit.restore(STORE_FILE, ref, "dropped", problem, now)

    def stop(self) -> None:
        """Stop accepting requests, stop the timers (every change is already persisted), go offline."""
        if self.mms is not None:
            self.mms.stop()
        if self.hedera is not None:  # its grants give way to firm capacity before the timers stop
            self.hedera.stop()
        self.engine.stop()
        self.bridge.stop()

    def _close_mms(self) -> None:
        """Free the MMS server's C memory once it no longer serves (or its creation)."""
        try:
            mms = self._building.result() if self._building is not None else None
        except Exception:  # noqa: BLE001 - a server that failed to build closed its creation itself
            mms = None
        if mms is not None:
            mms.close()
        self._creation.close()  # idempotent: a no-op after the server's own close

    def healthy(self) -> bool:
        """Whether the scheduler's timer path is alive (no instant overdue): the watchdog's question."""
        return self.engine.timer_lag() < WEDGED_AFTER_S

    def on_measurement(self, measurement: DeviceMeasurement) -> None:
        """A device's `meas`: mirror its power into the bound MMXU's TotW."""
        if measurement.mmxu_ref is None:
            return
        stamp = datetime.fromtimestamp(measurement.ts, UTC)
        try:
            ref = f"{measurement.mmxu_ref}.TotW.mag.f"
            if self.mms is not None:  # before the MMS server is up, the next measurement will do
                self.mms.update(ref, measurement.w, quality_good=True, timestamp=stamp)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("measurement not mirrored", device=measurement.device_id, error=str(exc))

    def upstream_status(self) -> dict[str, Any]:
        """For the status page: MMS clients, IEC 104 links, HEDERA, each actor's newest audited command."""
        actors = [{"actor": name, "seq": row.seq, "time": row.entry.time, "protocol": row.entry.protocol,
                   "command": row.entry.command, "object": row.entry.object, "result": row.entry.result}
                  for name, row in sorted(self.audit.last_by_actor.items())]  # fmt: skip
        return {
            "mms_associations": self.mms.associations if self.mms else 0,
            "iec104_connections": self.iec104.connections if self.iec104 else None,
            "hedera": self.hedera.lifecycle.state() if self.hedera else None,
            "actors": actors,
        }

    def device_status(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every device for the status page: the device layer's view, the MQTT bridge's on top."""
        mqtt = {view["id"]: view for view in self.bridge.device_status()}
        return [{**status, **mqtt.get(status["id"], {})} for status in self.devices.device_status(since)]

    def on_spoofed(self, device_id: str, sent_to: str, topic: str) -> None:
        """A device answered for another: refused by the bridge, recorded in the audit trail."""
        reason = f"ack of a command sent to {sent_to}: a device publishes for another (check the broker ACL)"
        self.audit.refused(Actor("mqtt", topic), "ack", f"device {device_id}", reason, time.time())

    def _on_event(self, event: Event) -> None:
        if isinstance(event, OutputChanged):
            self.devices.on_output(event)
            self.bridge.on_output(event)
        elif isinstance(event, AttributeChanged) and _changes_plan(event.ref):
            self._plans.ask()


def _changes_plan(ref: str) -> bool:
    """Parameter writes and state changes alter forecasts; entry boundaries of a running plan do not."""
    return ref.endswith((".SchdSt.stVal", ".setSrcRef", ".setMag.f", ".setVal", ".setTm", ".setCal"))


async def serve(settings: Settings, doc: SclDocument) -> None:
    """Run the gateway until SIGINT or SIGTERM, then stop every service in order."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    install_task_dump(loop)
    log.info("gateway starting", version=__version__, gateway_id=settings.gateway.id, **describe_model(doc))
    try:
        with long_lived_heap():
            gateway = Gateway(settings, doc)
        await gateway.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        remove_task_dump(loop)
    log.info("gateway stopped")


@contextmanager
def every_failure_reported() -> Iterator[None]:
    """Services that failed together (a TaskGroup's ExceptionGroup): each logged, all of them raised as one.

    The process's exit code is the most serious one's (see `ServicesFailedError`); errors that are no
    `ReleventError` (bugs) go on as the group, with their tracebacks.
    """
    try:
        yield
    except* ReleventError as failed:
        errors = list(_leaves(failed))
        for error in errors:  # no bugs: their messages say it all, without a traceback
            log.error("service failed", error=str(error), kind=type(error).__name__)  # noqa: TRY400
        raise one_error(errors) from None


def _leaves(group: BaseExceptionGroup[ReleventError]) -> Iterator[ReleventError]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error


async def _start(starting: Coroutine[Any, Any, None], what: str) -> None:
    """Await a service's start; a refused bind becomes a `StartupError` that names the service."""
    try:
        await starting
    except OSError as exc:
        raise StartupError(f"{what} cannot start: {exc.strerror or exc}") from None
