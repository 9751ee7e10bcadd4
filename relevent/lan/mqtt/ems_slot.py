"""EMS extension requests become a schedule in one configured FSCH slot, written like an MMS client would.

Every request replaces the slot's schedule through the engine's public commands, in this order: `DsaReq`
(when the slot is enabled), the values, `NumEntr`, `SchdIntv`, `SchdPrio`, `StrTm01.setTm` (other start
times cleared), `EnaReq`. The commands run back to back without yielding to the loop, so no engine timer
fires in between and devices only get the final output (a command is built when it is sent); but each one
is its own engine command (the engine has no transaction), so the MMS mirror and its reports see the slot
disabled for that instant. Every step before `EnaReq` acts on a disabled slot and a refused
`EnaReq` leaves it disabled (scheduling.md section 3), so a rejection never leaves a half-written schedule
enabled. What can be checked before touching the slot (capacity, interval, a run already over) is checked
first, so such a request leaves the running schedule alone. Requests are in W; the slot holds the units of
its output DO (kW in the reference model).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import structlog

from relevent.errors import ConfigError
from relevent.lan.mqtt.seams import ExtensionAccepted, ExtensionRejected, ExtensionRequest
from relevent.refs import full_ref, without_ld
from relevent.scheduler.commands import Actor, CommandResult, Rejected
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeValue
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.spec import ScheduleSpec, ValueCdc
from relevent.scheduler.values import Timestamp
from relevent.scl.model import SclDocument
from relevent.scl.units import si_factor

log = structlog.get_logger(__name__)

PROTOCOL = "mqtt-ems"
# A slot of this function holds limits, which are magnitudes: the request's direction does not sign them.
MAGNITUDE_PREFIX = "MaxPow"


class EmsSlot:
    """An `ExtensionRequestHandler` that owns one FSCH slot and writes each request into it."""

    def __init__(  # noqa: PLR0913 - the slot's settings, each needed once
        self,
        engine: Engine,
        slot: str,
        *,
        priority: int,
        peer: str,
        watts_per_unit: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._spec = _slot_spec(engine, slot)
        self._watts_per_unit = watts_per_unit
        self._priority = priority
        self._actor = Actor(protocol=PROTOCOL, peer=peer)
        self._clock = clock
        self._magnitudes = without_ld(self._spec.ref).startswith(MAGNITUDE_PREFIX)

    @classmethod
    def from_scl(cls, engine: Engine, doc: SclDocument, slot: str, *, priority: int, peer: str) -> EmsSlot:
        """The handler of `slot`; its values are in its output DO's units (kW in the reference model)."""
        ref = _slot_spec(engine, slot).ref
        ln = next(ln for _, ld, ln in doc.logical_nodes() if f"{ld.name}/{ln.name}" == ref)
        unit = si_factor(ln, ValueCdc.ASG.output[0])
        return cls(engine, slot, priority=priority, peer=peer, watts_per_unit=unit)

    @property
    def slot(self) -> str:
        """The full reference of the slot."""
        return self._spec.ref

    async def submit(self, request: ExtensionRequest) -> ExtensionAccepted | ExtensionRejected:
        """Write the request into the slot and enable it; answer with the slot or the first refusal."""
        now = self._clock()
        # "Start now" is the current whole second: the run is then already in progress and joined at its
        # first entry at once, no `now + epsilon`, and the start time reads back as a round number.
        start = float(math.floor(now)) if request.start is None else request.start
        problem = self._problem(request, start, now)
        if problem is not None:
            log.info("extension request out of range", slot=self.slot, problem=problem)
            return ExtensionRejected("out_of_range")
        if self._enabled():
            rejected = self._operate("DsaReq")
            if rejected is not None:
                return rejected
        for ref, value in self._writes(request, start):
            rejected = self._write(ref, value)
            if rejected is not None:
                return rejected
        return self._operate("EnaReq") or ExtensionAccepted(self.slot)

    def _problem(self, request: ExtensionRequest, start: Timestamp, now: Timestamp) -> str | None:
        """Why the request cannot fit the slot, before anything is written."""
        capacity = len(self._spec.value_names)
        if len(request.values) > capacity:
            return f"{len(request.values)} values for a slot of {capacity}"
        if not self._interval(request).is_integer():
            return f"an interval of {request.interval_s} s is no whole number of SchdIntv units"
        if start + len(request.values) * request.interval_s <= now:
            return "the requested run is already over"
        return None

    def _interval(self, request: ExtensionRequest) -> float:
        return request.interval_s / self._spec.intv_unit

    def _writes(self, request: ExtensionRequest, start: Timestamp) -> list[tuple[str, object]]:
        ref, da = self._spec.ref, self._spec.kind.value_da
        writes: list[tuple[str, object]] = [
            (f"{ref}.{name}.{da}", self._signed(value, request))
            for name, value in zip(self._spec.value_names, request.values, strict=False)
        ]
        first, *others = self._spec.start_times
        writes += [
            (f"{ref}.NumEntr.setVal", len(request.values)),
            (f"{ref}.SchdIntv.setVal", int(self._interval(request))),
            (f"{ref}.SchdPrio.setVal", self._priority),
            (f"{ref}.{first.name}.setTm", start),
        ]
        # A start time left from an earlier schedule would run this one again later.
        return writes + [(tm, 0.0) for o in others if self._is_set(tm := f"{ref}.{o.name}.setTm")]

    def _signed(self, watts: float, request: ExtensionRequest) -> float:
        """The slot's value for a request value in W: in the slot's units, signed unless a limit."""
        value = watts / self._watts_per_unit
        if self._magnitudes or request.direction == "EXPORT":
            return value
        return 0.0 - value  # IMPORT is consumption, negative; `0.0 -` keeps a zero from becoming -0.0

    def _is_set(self, set_tm_ref: str) -> bool:
        current = self._engine.read(set_tm_ref)
        return isinstance(current, AttributeValue) and current.value != 0.0

    def _enabled(self) -> bool:
        state = self._engine.read(f"{self.slot}.SchdSt.stVal")
        return not isinstance(state, Rejected) and state.value in (SchdSt.READY, SchdSt.RUNNING)

    def _write(self, ref: str, value: object) -> ExtensionRejected | None:
        return _refusal(self._engine.write(ref, value, self._actor))

    def _operate(self, control: str) -> ExtensionRejected | None:
        result = self._engine.operate(f"{self.slot}.{control}", ctl_val=True, test=False, actor=self._actor)
        return _refusal(result)


def _refusal(result: CommandResult) -> ExtensionRejected | None:
    """The engine's refusal as an answer (the engine has logged it with the actor), or None."""
    return ExtensionRejected(result.reason.value) if isinstance(result, Rejected) else None


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
