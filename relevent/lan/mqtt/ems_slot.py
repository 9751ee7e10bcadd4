"""EMS extension requests become a schedule in one configured FSCH slot, through the intent API.

The EMS is an actor whose slot set is its one slot and whose band is its one priority; every request is an
intent with the same key, so it replaces the slot's schedule: values, `NumEntr`, `SchdIntv`, `SchdPrio`,
`StrTm01` (other start times cleared) and the enable as one engine command, validated as a whole and
persisted in one store transaction, so no entry boundary, MMS reader or device sees half a schedule, and a
refused request leaves the running one alone. What cannot fit (capacity, interval, a run already over,
values beyond what the devices the slot drives, their outputs' `minVal`/`maxVal` in the model, or FLOAT32
can take) is answered `out_of_range`; an engine refusal with the engine's reason, as an MMS write would be.
Requests are in W; the slot holds the units of its output DO (kW in the reference model).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping

import structlog

from relevent.errors import ConfigError
from relevent.lan.mqtt.seams import ExtensionAccepted, ExtensionRejected, ExtensionRequest
from relevent.lan.registry import DeviceRegistry
from relevent.refs import full_ref, split_owner, without_ld
from relevent.scheduler.engine import Engine
from relevent.scheduler.intents import Intents
from relevent.scheduler.spec import ScheduleSpec, ValueCdc
from relevent.scheduler.values import FLOAT32_MAX, Timestamp
from relevent.scheduler.verdicts import (
    NOW,
    Actor,
    ActorSlots,
    Intent,
    IntentFunction,
    Placed,
    RefusalReason,
    Refused,
)
from relevent.scl.model import LogicalNode, SclDocument
from relevent.scl.units import si_factor

log = structlog.get_logger(__name__)

PROTOCOL = "mqtt-ems"
# A slot of this function holds limits, which are magnitudes: the request's direction does not sign them.
MAGNITUDE_PREFIX = "MaxPow"
UNBOUNDED = (-math.inf, math.inf)
KEY = "request"  # every request replaces the one before
# Refusals of the request's shape, answered as before the intent API: the slot cannot hold it.
_OUT_OF_RANGE = (RefusalReason.OUT_OF_RANGE, RefusalReason.TOO_LONG)


class EmsSlot:
    """An `ExtensionRequestHandler` that owns one FSCH slot and programs each request into it."""

    def __init__(  # noqa: PLR0913 - the slot's settings, each needed once
        self,
        engine: Engine,
        slot: str,
        *,
        priority: int,
        peer: str,
        watts_per_unit: float = 1.0,
        device_range: tuple[float, float] = UNBOUNDED,
        model_range: tuple[float, float] = UNBOUNDED,
        clock: Callable[[], float] = time.time,
        intents: Intents | None = None,
    ) -> None:
        """Each signed request value in W must lie in `device_range` and `model_range` (see there).

        `intents` is the gateway's intent API, whose actors include this one (`ems_share`); without it the
        handler has its own.
        """
        self._spec = _slot_spec(engine, slot)
        self._controller = _controller(engine, self._spec)
        self._watts_per_unit = watts_per_unit
        self._actor = Actor(protocol=PROTOCOL, peer=peer)
        self._clock = clock
        own = {PROTOCOL: ems_share(self._spec.ref, priority)}
        self.intents = intents if intents is not None else Intents(engine, own, now=clock)
        self._magnitudes = without_ld(self._spec.ref).startswith(MAGNITUDE_PREFIX)
        model_limit = FLOAT32_MAX * abs(watts_per_unit)  # what the slot's FLOAT32 DAs can hold, in W
        self._low = max(device_range[0], model_range[0], -model_limit)
        self._high = min(device_range[1], model_range[1], model_limit)

    @classmethod
    def from_scl(  # noqa: PLR0913 - the slot's settings, each needed once
        cls,
        engine: Engine,
        doc: SclDocument,
        slot: str,
        *,
        priority: int,
        peer: str,
        devices: DeviceRegistry | None = None,
        intents: Intents | None = None,
    ) -> EmsSlot:
        """The handler of `slot`; its values are in its output DO's units (kW in the reference model).

        Its requests are bounded by the limits of the `devices` that follow the slot's controllers, and by
        the `minVal`/`maxVal` the SCL gives the outputs those controllers drive.
        """
        spec = _slot_spec(engine, slot)
        nodes = {f"{ld.name}/{ln.name}": ln for _, ld, ln in doc.logical_nodes()}
        unit = si_factor(nodes[spec.ref], ValueCdc.ASG.output[0])
        controllers = [c for c in engine.model.controllers if spec.ref in c.schedule_refs]
        targets = [t for c in controllers if (t := engine.model.targets.get(c.ctl_ent)) is not None]
        followed = UNBOUNDED if devices is None else device_range(devices, [c.ref for c in controllers])
        outputs = output_range(nodes, [target.do_ref for target in targets])
        return cls(
            engine, slot, priority=priority, peer=peer, watts_per_unit=unit, device_range=followed,
            model_range=outputs, intents=intents,
        )  # fmt: skip

    @property
    def slot(self) -> str:
        """The full reference of the slot."""
        return self._spec.ref

    async def submit(self, request: ExtensionRequest) -> ExtensionAccepted | ExtensionRejected:
        """Program the request into the slot; answer with the slot or the refusal."""
        problem = self._problem(request, self._clock())
        if problem is not None:
            log.info("extension request out of range", slot=self.slot, problem=problem)
            return ExtensionRejected("out_of_range")
        verdict = self.intents.place(Intent(
            actor=self._actor, key=KEY, target=self._controller, function=self._function(),
            start=NOW if request.start is None else request.start, interval_s=request.interval_s,
            values=tuple(self._signed(watts, request) / self._watts_per_unit for watts in request.values),
        ))  # fmt: skip
        if isinstance(verdict, Placed):
            return ExtensionAccepted(self.slot)
        assert isinstance(verdict, Refused)  # a place is never a cancel
        if verdict.rejected is not None:  # the engine has logged and audited it with the actor
            return ExtensionRejected(verdict.rejected.reason.value)
        return ExtensionRejected("out_of_range" if verdict.reason in _OUT_OF_RANGE else verdict.reason.value)

    def _problem(self, request: ExtensionRequest, now: Timestamp) -> str | None:
        """Why the request cannot be what the EMS meant, before it becomes an intent."""
        if request.start is not None and request.start + len(request.values) * request.interval_s <= now:
            return "the requested run is already over"
        beyond = [w for w in request.values if not self._low <= self._signed(w, request) <= self._high]
        if beyond:
            return f"{beyond[0]} W is outside [{self._low}, {self._high}] W, what the slot's devices take"
        return None

    def _function(self) -> IntentFunction:
        return IntentFunction.MAX_POW if self._magnitudes else IntentFunction.ACT_POW

    def _signed(self, watts: float, request: ExtensionRequest) -> float:
        """A request value in W, signed unless the slot holds limits."""
        if self._magnitudes or request.direction == "EXPORT":
            return watts
        return 0.0 - watts  # IMPORT is consumption, negative; `0.0 -` keeps a zero from becoming -0.0


def ems_share(slot: str, priority: int) -> ActorSlots:
    """The EMS as an actor of the intent API: its one slot, its one priority.

    It is a local actor without a user: its configured name is its protocol (`actor_name`).
    """
    return ActorSlots((priority, priority), (slot,))


def device_range(devices: DeviceRegistry, controllers: Iterable[str]) -> tuple[float, float]:
    """The widest range in W that the devices following `controllers` apply (the bridge clamps to theirs).

    A limit (`w_max_lim`) takes magnitudes up to the largest of `|w_min|`, `|w_max|`; a setpoint (`w_set`)
    takes [w_min, w_max]. A side that some device leaves open, or no device at all, is unbounded.
    """
    ranges = []
    for controller in controllers:
        for device, field in devices.followers(controller):
            if field == "w_max_lim":
                magnitudes = [abs(x) for x in (device.w_min, device.w_max) if x is not None]
                ranges.append((0.0, max(magnitudes, default=math.inf)))
            elif field == "w_set":
                low, high = device.w_min, device.w_max
                ranges.append((-math.inf if low is None else low, math.inf if high is None else high))
    return _widest(ranges)


def output_range(nodes: Mapping[str, LogicalNode], outputs: Iterable[str]) -> tuple[float, float]:
    """The widest range in W that the controlled output DOs (full references) allow.

    An APC's setpoint range is its SCL `minVal.f`..`maxVal.f`, scaled by its units; a side that one leaves
    open is unbounded.
    """
    ranges = []
    for output in outputs:
        ln_ref, do_name = split_owner(output)
        ln = nodes.get(ln_ref)
        if ln is None:
            continue
        factor = si_factor(ln, do_name)
        low, high = (ln.initial(f"{do_name}.{limit}.f") for limit in ("minVal", "maxVal"))
        ranges.append((
            low * factor if isinstance(low, int | float) and not isinstance(low, bool) else -math.inf,
            high * factor if isinstance(high, int | float) and not isinstance(high, bool) else math.inf,
        ))  # fmt: skip
    return _widest(ranges)


def _widest(ranges: list[tuple[float, float]]) -> tuple[float, float]:
    """The smallest range that holds all of `ranges` (unbounded when there are none)."""
    if not ranges:
        return UNBOUNDED
    return min(low for low, _ in ranges), max(high for _, high in ranges)


def _controller(engine: Engine, spec: ScheduleSpec) -> str:
    """The controller the slot feeds: the target of the EMS's intents."""
    controller = next((c.ref for c in engine.model.controllers if spec.ref in c.schedule_refs), None)
    if controller is None:
        raise ConfigError(f"[mqtt] ems_slot {spec.ref!r} is in no controller's schedule list")
    return controller


def _slot_spec(engine: Engine, slot: str) -> ScheduleSpec:
    """The slot's schedule; it must exist, hold power values and not be a reserve."""
    ref = full_ref(slot, engine.model.ied_name)
    spec = next((s for s in engine.model.schedules if s.ref == ref), None)
    if spec is None:
        raise ConfigError(f"[mqtt] ems_slot {slot!r} is not a schedule of the model")
    if spec.kind is not ValueCdc.ASG:
        raise ConfigError(f"[mqtt] ems_slot {slot!r} holds {spec.kind.value} values, not power in W")
    if spec.reserve:
        raise ConfigError(f"[mqtt] ems_slot {slot!r} is a reserve schedule")
    return spec
