"""The device layer: controller outputs -> one intent per device, handed to the device's driver.

The composition root feeds `on_output` with the scheduler's `OutputChanged` events (the current output of
every controller before `run`, then every change) and calls `refresh_plans` when a forecast may have
changed. Each device's intent is computed once per change of a bound controller, and again every
`heartbeat_s` with a fresh `valid_until` (the lease that keeps the device from falling back). Drivers
report health and measurements back here; the layer keeps the changes, the metrics and the status, and
hands them upstream (MMXU mirror, health sink). Everything runs on the event loop; a driver returns at
once, so a slow or dead device delays only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from relevent.errors import ConfigError
from relevent.lan.driver import (
    COMMAND_FIELDS,
    DeviceFields,
    DeviceHealth,
    DeviceIntent,
    DevicePlan,
    Driver,
    HealthReport,
    MeterReading,
)
from relevent.lan.fields import ControllerValue, current_fields, device_fields
from relevent.lan.metrics import DeviceMetrics
from relevent.lan.plan import ForecastSource, PlanSteps, forecast_all, plan_key, plan_steps
from relevent.lan.registry import Device, DeviceRegistry
from relevent.lan.sinks import DeviceMeasurement, HealthSink, MeasurementSink
from relevent.lan.trace import DeviceTrace
from relevent.scheduler.events import OutputChanged
from relevent.scheduler.values import ScheduleValue
from relevent.timing import PLAN_SETTLE_S

log = structlog.get_logger(__name__)

Reserves = Callable[[str], ScheduleValue | None]  # controller reference -> its reserve schedule's value


@dataclass(frozen=True)
class DeviceTiming:
    """How often intents are renewed, how long each holds, how far and how often plans look ahead (s)."""

    heartbeat_s: float
    validity_s: float
    plan_horizon_s: float
    plan_refresh_s: float


@dataclass
class _DeviceState:
    """What the layer last handed to a device and heard back from its driver (epoch seconds)."""

    device: Device
    seq: itertools.count[int] = field(default_factory=itertools.count)
    intent: DeviceIntent | None = None
    plan: PlanSteps = ()
    health: DeviceHealth = DeviceHealth.UNKNOWN
    health_detail: str = ""
    measurement: MeterReading | None = None
    measured_at: float | None = None
    trace: DeviceTrace = field(default_factory=DeviceTrace)


class DeviceLayer:
    """Every configured device, served by the driver of its protocol."""

    def __init__(  # noqa: PLR0913 - the seams the composition root provides, all but the first optional
        self,
        registry: DeviceRegistry,
        drivers: Mapping[str, Driver],
        timing: DeviceTiming,
        *,
        metrics_registry: CollectorRegistry,
        forecasts: ForecastSource | None = None,
        reserves: Reserves | None = None,
        measurements: MeasurementSink | None = None,
        health: HealthSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        missing = sorted({d.protocol for d in registry} - set(drivers))
        if missing:
            raise ConfigError(f"no driver for protocol {', '.join(missing)}")
        self.registry = registry
        self.drivers = drivers
        self.timing = timing
        self.metrics = DeviceMetrics(metrics_registry)
        self._forecasts = forecasts
        self._reserves = reserves
        self._measurements = measurements
        self._health = health
        self._clock = clock
        self._outputs: dict[str, ControllerValue] = {}
        self._states = {device.id: _DeviceState(device) for device in registry}
        for device in registry:  # every series from the start, for dashboards and alerts
            self.metrics.set_health(device.id, device.protocol, DeviceHealth.UNKNOWN)
        self._plans_stale = asyncio.Event()

    def on_output(self, event: OutputChanged) -> None:
        """A controller output changed: every device following it gets a new intent at once."""
        self._outputs[event.controller] = event
        for device, _ in self.registry.followers(event.controller):
            self._issue(self._states[device.id])

    def refresh_plans(self) -> None:
        """A forecast may have changed (a schedule was written, enabled, disabled): recompute the plans."""
        self._plans_stale.set()

    async def run(self) -> None:
        """Renew every device's intent each heartbeat and keep the plans current, until cancelled."""
        for state in self._states.values():
            if state.intent is None:  # devices bound to nothing still learn that nothing is asked
                self._issue(state)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._heartbeat_loop())
            if self._forecasts is not None:
                group.create_task(self._plan_loop(self._forecasts))

    # --- the drivers' reports (`DeviceReports`) ---------------------------------------------------------

    def on_health(self, report: HealthReport) -> None:
        """A device's health; only changes are logged, counted and passed on (to the health sink)."""
        state = self._states.get(report.device_id)
        if state is None:
            log.warning("health of an unknown device", device=report.device_id)
            return
        state.health_detail = report.detail
        if report.health is state.health:
            return
        state.health = report.health
        device = state.device
        self.metrics.set_health(device.id, device.protocol, report.health)
        # Turning unhealthy is worth a warning, whatever the protocol; everything else is information.
        level = log.info if report.health.healthy else log.warning
        level("device health", device=device.id, protocol=device.protocol, health=report.health.value,
              detail=report.detail or None)  # fmt: skip
        if self._health is not None:
            self._health.on_health(device.id, report.health)

    def on_measurement(self, measurement: MeterReading) -> None:
        """A device's measurement: metrics, status, and the measurement sink (its MMXU mirror)."""
        state = self._states.get(measurement.device_id)
        if state is None:
            log.warning("measurement of an unknown device", device=measurement.device_id)
            return
        device = state.device
        state.measurement, state.measured_at = measurement, self._clock()
        state.trace.measure(measurement.ts, measurement.w)
        self.metrics.power.labels(device.id, device.protocol).set(measurement.w)
        self.metrics.measured_at.labels(device.id, device.protocol).set(measurement.ts)
        if self._measurements is not None:
            self._measurements.on_measurement(
                DeviceMeasurement(device.id, device.mmxu_ref, measurement.ts, measurement.w,
                                  measurement.var, measurement.soc_pct)
            )  # fmt: skip

    # --- status ----------------------------------------------------------------------------------------

    def health(self, device_id: str) -> DeviceHealth:
        """The device's current health as its driver judged it last."""
        return self._states[device_id].health

    def measured_w(self, device_id: str) -> float | None:
        """The device's latest measured active power in W; None: none yet, or older than the validity."""
        state = self._states[device_id]
        age = _age(self._clock(), state.measured_at)
        if state.measurement is None or age is None or age > self.timing.validity_s:
            return None
        return state.measurement.w

    def reachable(self, device_id: str) -> bool | None:
        """Whether the device's driver reaches it; None: no verdict yet."""
        health = self.health(device_id)
        return None if health is DeviceHealth.UNKNOWN else health is not DeviceHealth.UNREACHABLE

    def device_status(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every device as the status page shows it, whatever its protocol; times are epoch seconds.

        A datum older than the intents' validity is stale: by then a device without a fresh intent has
        fallen back, and a measurement that old no longer describes the device. A driver may add its own
        view on top (the MQTT bridge's online state, command and ack). With `since`, each device's
        `trace`: measured and asked power from then on.
        """
        now = self._clock()
        return [self._status(state, now, since) for state in self._states.values()]

    def _status(self, state: _DeviceState, now: float, since: float | None) -> dict[str, Any]:
        intent, measurement = state.intent, state.measurement
        ages = {
            "intent": _age(now, None if intent is None else intent.issued),
            "measurement": _age(now, state.measured_at),
        }
        return {
            "id": state.device.id,
            "class": state.device.device_class,
            "protocol": state.device.protocol,
            "health": state.health.value,
            "health_detail": state.health_detail or None,
            "healthy": state.health.healthy,
            "intent": None if intent is None else {
                "seq": intent.seq,
                "issued": intent.issued,
                "valid_until": intent.valid_until,
                **{name: getattr(intent.fields, name) for name in COMMAND_FIELDS},
                "fallback": {name: getattr(intent.fallback, name) for name in COMMAND_FIELDS},
            },
            "measurement": None if measurement is None else {
                "ts": datetime.fromtimestamp(measurement.ts, UTC).isoformat(),
                "w": measurement.w, "var": measurement.var, "soc_pct": measurement.soc_pct,
                "state": measurement.state,
            },
            "age_s": ages,
            "stale": [name for name, age in ages.items() if age is not None and age > self.timing.validity_s],
            **({} if since is None else {"trace": state.trace.since(since)}),
        }  # fmt: skip

    # --- internals -------------------------------------------------------------------------------------

    def _issue(self, state: _DeviceState) -> None:
        device = state.device
        fields, sources = current_fields(device, self._outputs)
        now = self._clock()
        intent = DeviceIntent(
            device.id, next(state.seq), now, now + self.timing.validity_s, fields, sources,
            self._fallback(device),
        )  # fmt: skip
        state.intent = intent
        state.trace.ask(now, fields.w_set, fields.w_max_lim)
        self.metrics.intents.labels(device.id, device.protocol).inc()
        for name in ("w_set", "w_max_lim"):
            value = getattr(fields, name)
            self.metrics.setpoint.labels(device.id, device.protocol, name).set(
                float("nan") if value is None else value
            )
        on = float("nan") if fields.on is None else float(fields.on)
        self.metrics.on.labels(device.id, device.protocol).set(on)
        self.drivers[device.protocol].apply(intent)

    def _fallback(self, device: Device) -> DeviceFields:
        """The values of the bound controllers' reserve schedules, in the device's units and limits."""
        if self._reserves is None:
            return DeviceFields()
        return device_fields(device, {name: self._reserves(ref) for name, ref in device.bindings.items()})

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.timing.heartbeat_s)
            for state in self._states.values():
                self._issue(state)

    async def _update_plans(self, source: ForecastSource) -> None:
        start = self._clock()
        forecasts = await forecast_all(
            source, self.registry.controllers, start, start + self.timing.plan_horizon_s
        )
        if forecasts is None:
            return
        now = self._clock()
        for state in self._states.values():
            steps = plan_steps(state.device, forecasts)
            if plan_key(steps) != plan_key(state.plan):
                state.plan = steps
                device = state.device
                self.drivers[device.protocol].apply_plan(DevicePlan(device.id, now, steps))

    async def _plan_loop(self, source: ForecastSource) -> None:
        while True:
            await self._update_plans(source)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timing.plan_refresh_s):
                    await self._plans_stale.wait()
                # SCADA programs a schedule item by item: recompute after a burst of writes, not after each
                # one (with many devices a recomputation costs far more than a write and starves MMS).
                await asyncio.sleep(PLAN_SETTLE_S)
            self._plans_stale.clear()


def _age(now: float, since: float | None) -> float | None:
    """Seconds since `since` (None: never); a datum older than the validity is stale."""
    return None if since is None else max(0.0, now - since)
