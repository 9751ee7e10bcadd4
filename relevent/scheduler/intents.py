"""The intent API: the one door into the scheduler core for adapters that do not speak MMS.

An adapter hands `Intents.place` an `Intent` (who, which key, which controller and function, start or
`NOW`, interval, values, relative priority) and gets a typed verdict. The core alone chooses the slots: those
of the actor's configured set that feed the target controller, the ones already holding the key first, else
the first run of free ones (a slot is free unless it holds another key's live schedule). Values beyond one
slot's capacity are chained over consecutive slots, each link starting where the one before ends. All the
schedules (and the disable of slots the key no longer needs) are one `Engine.program_slots` command:
validated as a whole, persisted in one store transaction with the key -> slot mapping, so no entry
boundary, reader or crash sees half of it, and a restart knows which slots each key holds. `place_soon`
runs it as `Engine.program_slots_soon`: the devices hear of it while the store syncs, the answer waits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import structlog

from relevent.refs import full_ref, without_ld
from relevent.scheduler.commands import Accepted, Actor, CommandResult, Now, Program, Rejected, RejectReason
from relevent.scheduler.engine import Engine, Settled
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.slots import Slots
from relevent.scheduler.spec import ControllerSpec, ScheduleSpec
from relevent.scheduler.values import INT32_MAX, Timestamp, ValueType
from relevent.scheduler.verdicts import (
    ActorSlots,
    Cancelled,
    Intent,
    IntentFunction,
    IntentHandled,
    Placed,
    RefusalReason,
    Refused,
    Verdict,
)

log = structlog.get_logger(__name__)

IntentSubscriber = Callable[[IntentHandled], None]
Answer = Callable[[Verdict], None]
Programs = Mapping[str, Program | None]
# How a placement's programs are run: the engine's `program_slots_soon`, or `program_slots` at once.
Run = Callable[[Programs, Actor, Mapping[str, str | None], Settled], None]
DeviceBindings = Mapping[str, Mapping[IntentFunction, str]]  # device id -> function -> controller (full ref)

# Engine refusals as intent refusals; a refused enable carries its SchdEnaErr and is `invalid` whatever.
_ENGINE_REASONS = {
    RejectReason.ACCESS_DENIED: RefusalReason.ACTOR_NOT_ALLOWED,
    RejectReason.VALUE_INVALID: RefusalReason.OUT_OF_RANGE,
    RejectReason.TYPE_CONFLICT: RefusalReason.OUT_OF_RANGE,
    RejectReason.OBJECT_UNDEFINED: RefusalReason.UNKNOWN_TARGET,
    RejectReason.TEMPORARILY_UNAVAILABLE: RefusalReason.UNAVAILABLE,
}


def actor_name(actor: Actor) -> str:
    """The configured actor an `Actor` is: its authenticated user, or a local adapter's protocol."""
    return actor.user if actor.user is not None else actor.protocol


class Intents:
    """Places and cancels intents in the engine's schedules; every answer is announced for the audit."""

    def __init__(
        self,
        engine: Engine,
        actors: Mapping[str, ActorSlots],
        *,
        now: Callable[[], Timestamp],
        devices: DeviceBindings | None = None,
    ) -> None:
        self._engine = engine
        self._actors = dict(actors)
        self._now = now
        self._devices = devices or {}
        self._schedules = {spec.ref: spec for spec in engine.model.schedules}
        self._controllers = {spec.ref: spec for spec in engine.model.controllers}
        self._slots = Slots(engine)
        self._subscribers: list[IntentSubscriber] = []

    def subscribe(self, callback: IntentSubscriber) -> Callable[[], None]:
        """Register a callback for every answered intent and cancel; return its unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def place(self, intent: Intent) -> Verdict:
        """Write `intent` into its slots and enable it, or replace what its key held, as one step."""
        verdicts: list[Verdict] = []
        self._place(intent, self._program_now, verdicts.append)
        return verdicts[0]

    def place_soon(self, intent: Intent, answer: Answer) -> None:
        """`place`, its device commands sent while the store syncs: `answer` gets the verdict once durable.

        For adapters whose peer waits for the answer (an IEC 104 ACT_CON): the devices need not wait too.
        """
        self._place(intent, self._engine.program_slots_soon, answer)

    def cancel(self, actor: Actor, key: str) -> Verdict:
        """Disable the schedules of `key` and forget it, as one step; an unknown key cancels nothing."""
        verdicts: list[Verdict] = []
        self._cancel(actor, key, self._program_now, verdicts.append)
        return verdicts[0]

    def cancel_soon(self, actor: Actor, key: str, answer: Answer) -> None:
        """`cancel`, as `place_soon` places."""
        self._cancel(actor, key, self._engine.program_slots_soon, answer)

    def held(self, actor: Actor, key: str) -> tuple[str, ...]:
        """The slots (full references) that `key` of `actor` holds, in chain order."""
        return tuple(self._held(actor_name(actor), key))

    # ---- placement --------------------------------------------------------------------------------------

    def _program_now(
        self, programs: Programs, actor: Actor, keys: Mapping[str, str | None], settled: Settled
    ) -> None:
        settled(self._engine.program_slots(programs, actor, keys))

    def _place(self, intent: Intent, run: Run, answer: Answer) -> None:
        def done(verdict: Verdict) -> None:
            self._announce(
                IntentHandled("intent", intent.actor, intent.key, intent.target, verdict, self._now(), intent)
            )
            answer(verdict)

        plan = self._plan(intent)
        if isinstance(plan, Refused):
            done(plan)
            return
        placed, programs, keys = plan
        if intent.test:
            result = self._engine.check_program(programs, intent.actor)
            log.info("test intent checked, not actuated", actor=actor_name(intent.actor), key=intent.key,
                     slots=placed.slots)  # fmt: skip
            done(_verdict(result, placed))
            return
        run(programs, intent.actor, keys, lambda result: done(_verdict(result, placed)))

    def _cancel(self, actor: Actor, key: str, run: Run, answer: Answer) -> None:
        def done(verdict: Verdict) -> None:
            self._announce(IntentHandled("cancel", actor, key, "", verdict, self._now()))
            answer(verdict)

        name = actor_name(actor)
        if name not in self._actors:
            done(Refused(RefusalReason.ACTOR_NOT_ALLOWED, f"actor {name!r} has no slots"))
            return
        held = self._held(name, key)
        if not held:
            done(Cancelled(()))
            return
        cancelled = Cancelled(tuple(held))
        run(dict.fromkeys(held), actor, dict.fromkeys(held), lambda result: done(_verdict(result, cancelled)))

    def _plan(  # noqa: PLR0911 - one return per refusal reason
        self, intent: Intent
    ) -> Refused | tuple[Placed, dict[str, Program | None], dict[str, str | None]]:
        """Where and how `intent` goes: its verdict if placed, the slots' programs and keys; or a refusal."""
        name = actor_name(intent.actor)
        share = self._actors.get(name)
        if share is None:
            return Refused(RefusalReason.ACTOR_NOT_ALLOWED, f"actor {name!r} has no slots")
        controller = self._controller(intent.target, intent.function)
        if controller is None:
            return Refused(
                RefusalReason.UNKNOWN_TARGET, f"no {intent.function.value} controller {intent.target!r}"
            )
        if self._engine.output(controller.ref) is None:  # a known controller: the engine is not running
            return Refused(RefusalReason.UNAVAILABLE, "the scheduler is not started")
        bound = self._bound(controller)
        slots = [slot for slot in share.slots if slot in bound]
        if not slots:
            return Refused(RefusalReason.ACTOR_NOT_ALLOWED, f"no slot of {name!r} feeds {controller.ref}")
        interval = intent.interval_s
        if interval is None:  # "until changed": one entry held for the actor's hold
            interval = share.hold_s or INT32_MAX * self._schedules[slots[0]].intv_unit
        problem = _value_problem(intent, controller, interval, [self._schedules[s] for s in slots])
        if problem is not None:
            return Refused(RefusalReason.OUT_OF_RANGE, problem)
        capacity = sum(len(self._schedules[s].value_names) for s in slots)
        if len(intent.values) > capacity:
            return Refused(
                RefusalReason.TOO_LONG, f"{len(intent.values)} values for {capacity} in the slot set"
            )
        label = _label(name, intent.key)
        chain = self._chain(slots, label, len(intent.values))
        if chain is None:
            return Refused(
                RefusalReason.NO_FREE_SLOT, f"no free run of slots of {name!r} at {controller.ref}"
            )
        priority = share.priority(intent.rel_priority)
        programs: dict[str, Program | None] = dict(self._links(intent, chain, interval, priority))
        programs.update((slot, None) for slot in self._held(name, intent.key) if slot not in programs)
        keys = {slot: None if program is None else label for slot, program in programs.items()}
        return Placed(chain[0], priority, tuple(chain)), programs, keys

    def _controller(self, target: str, function: IntentFunction) -> ControllerSpec | None:
        """The controller `target` names for `function` (a controller, or a device's binding of it)."""
        binding = self._devices.get(target, {}).get(function)
        ref = binding if binding is not None else full_ref(target, self._engine.model.ied_name)
        controller = self._controllers.get(ref)
        if controller is None or not _serves(controller, function):
            return None
        return controller

    def _bound(self, controller: ControllerSpec) -> set[str]:
        """The schedules the controller references now (`SchdNN` may have been rewritten over MMS)."""
        refs = (self._engine.read(f"{controller.ref}.{name}.setSrcRef") for name in controller.schedule_names)
        return {ref.value for ref in refs if not isinstance(ref, Rejected) and isinstance(ref.value, str)}

    def _chain(self, slots: Sequence[str], label: str, count: int) -> list[str] | None:
        """The consecutive slots of `slots` that take `count` values, or None when there are none.

        The run beginning at a slot the key holds is tried first, then the first run of free slots.
        """
        keys = self._engine.intent_keys()
        ended = SchdSt.NOT_READY
        free = [keys.get(slot) in (None, label) or self._slots.state(slot) is ended for slot in slots]
        starts = sorted(range(len(slots)), key=lambda i: keys.get(slots[i]) != label)  # the key's own first
        for first in starts:
            chain: list[str] = []
            room = 0
            for index in range(first, len(slots)):
                if not free[index]:
                    break
                chain.append(slots[index])
                room += len(self._schedules[slots[index]].value_names)
                if room >= count:
                    return chain
        return None

    def _links(
        self, intent: Intent, chain: Sequence[str], interval: float, priority: int
    ) -> list[tuple[str, Program]]:
        """One program per slot of `chain`, each starting where the one before ends."""
        links = []
        done = 0
        for slot in chain:
            spec = self._schedules[slot]
            values = intent.values[done : done + len(spec.value_names)]
            offset = done * interval
            start = intent.start
            start = Now(start.after_s + offset) if isinstance(start, Now) else start + offset
            links.append((slot, Program(values, round(interval / spec.intv_unit), priority, start)))
            done += len(values)
        return links

    def _held(self, name: str, key: str) -> list[str]:
        label = _label(name, key)
        held = {slot for slot, held_key in self._engine.intent_keys().items() if held_key == label}
        share = self._actors[name]
        return [slot for slot in share.slots if slot in held]

    def _announce(self, event: IntentHandled) -> None:
        verdict = event.verdict
        if isinstance(verdict, Refused):
            log.info("intent refused", command=event.command, actor=actor_name(event.actor), key=event.key,
                     reason=verdict.reason.value, why=verdict.message)  # fmt: skip
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # the audit's failure must not undo an answered intent
                log.exception("intent subscriber failed")


def _label(name: str, key: str) -> str:
    """How a key is stored: actor names hold no "/" (`[[actors]]` name pattern), keys may."""
    return f"{name}/{key}"


def _serves(controller: ControllerSpec, function: IntentFunction) -> bool:
    """Whether `controller` steers `function`: by its value type, and by its LN prefix where it has one."""
    if (controller.value_type is ValueType.BOOL) != (function is IntentFunction.ON_OFF):
        return False
    ln_name = without_ld(controller.ref)
    named = [f for f in IntentFunction if ln_name.startswith(f.value)]
    return not named or function in named


def _value_problem(
    intent: Intent, controller: ControllerSpec, interval: float, slots: Sequence[ScheduleSpec]
) -> str | None:
    """Why the values or the interval cannot be written into the slots (None: they can)."""
    if not intent.values:
        return "no values"
    if intent.interval_s is None and len(intent.values) != 1:
        return "an intent held until changed has one value"
    boolean = controller.value_type is ValueType.BOOL
    if any(isinstance(v, bool) != boolean for v in intent.values):
        return f"{controller.ref} takes {'on/off' if boolean else 'numeric'} values"
    for spec in slots:
        units = interval / spec.intv_unit
        if not units.is_integer() or not 1 <= units <= INT32_MAX:
            return f"an interval of {interval} s is no whole number of {spec.ref}'s SchdIntv units"
    return None


def _verdict(result: CommandResult, accepted: Verdict) -> Verdict:
    """`accepted` when the engine accepted, else the refusal it gave."""
    return accepted if isinstance(result, Accepted) else _refused(result)


def _refused(result: CommandResult) -> Refused:
    """The refusal of an engine answer that was no acceptance."""
    assert not isinstance(result, Accepted)
    reason = RefusalReason.INVALID if result.schd_ena_err is not None else _ENGINE_REASONS[result.reason]
    return Refused(reason, result.message, result.schd_ena_err, result)
