"""The scheduler engine: commands in, events out, one loop timer for the next nominal instant.

Timing: the engine arms a single `loop.call_at` for the earliest instant any schedule changes (start, entry
boundary, end), converting wall time to loop time when arming. The callback processes the instant it was
armed for (its *nominal* time), never "now", so a timer firing a little early or late changes no boundary;
a late timer catches up instant by instant. A wall-clock step (detected at a timer, or reported through
`clock_stepped`) jumps every schedule to the new time and re-arms.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import structlog

from relevent.refs import full_ref, owner_of, split_last
from relevent.scheduler.attributes import (
    ControllerAttributes,
    Param,
    ScheduleAttributes,
    StatusItem,
    apply_program,
    apply_write,
)
from relevent.scheduler.clock import Clock
from relevent.scheduler.commands import (
    ACCEPTED,
    Actor,
    CommandResult,
    Now,
    Operate,
    Program,
    Rejected,
    RejectionError,
    RejectReason,
    Step,
    Write,
)
from relevent.scheduler.controller import Controller, ControllerOutput, ctl_ent_problem, schedule_ref_problem
from relevent.scheduler.events import (
    AttributeChanged,
    AttributeData,
    AttributeValue,
    CommandHandled,
    Event,
    EventBus,
    OutputChanged,
    Subscriber,
)
from relevent.scheduler.forecast import ForecastPoint, output_changes
from relevent.scheduler.forecast_cache import ForecastCache
from relevent.scheduler.periodic import CALENDAR_FIELDS, CalendarTime
from relevent.scheduler.policy import UNRESTRICTED, Lockable, Rights, SchedulePolicy, default_policy
from relevent.scheduler.restore import restore_timeline
from relevent.scheduler.schedule import EnaErr, Schedule, ScheduleParams, enable_error
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.store import Store, StoreError
from relevent.scheduler.timeline import Timeline
from relevent.scheduler.values import CoercionError, Timestamp
from relevent.timing import STATUS_DELAY_S

_log = structlog.get_logger(__name__)

# A timer this far off its nominal wall time means the wall clock was stepped (or the loop stalled).
STEP_TOLERANCE = 1.0
# A timer waking at most this much before its nominal instant processes it at once (with nominal time).
EARLY_TOLERANCE = 0.0003
# Upper bound of the early aim of long timers.
MAX_LEAD = 0.1
# The final approach aims this little early so float rounding of wall -> loop time never lands after it.
FINAL_LEAD = 1e-5
# The status to publish at an instant: the schedules, their parameters before it, and the controllers whose
# output they (or a rebind) may have changed.
_Status = tuple[Timestamp, list[Schedule], Mapping[str, tuple[ScheduleParams, bool]], list[Controller]]
# What `Engine.program` writes: each group must be unlocked (and so must enable/disable).
_PROGRAMMED = (Lockable.VALUES, Lockable.NUM_ENTR, Lockable.SCHD_INTV, Lockable.SCHD_PRIO, Lockable.STR_TM)


class Engine:
    """The IEC 61850-90-10 scheduler of one SCL model.

    Call `start()` on the running loop, then `snapshot()` to mirror the model; afterwards every change
    arrives as an event. Commands are synchronous, persisted before they return, and never raise.
    """

    def __init__(
        self,
        model: ModelSpec,
        *,
        clock: Clock,
        store: Store,
        policies: Mapping[str, SchedulePolicy] | None = None,
        rights: Rights = UNRESTRICTED,
    ) -> None:
        self._model = model
        self._rights = rights
        self._clock = clock
        self._store = store
        policies = policies or {}
        self._policies = {spec.ref: policies.get(spec.ref, default_policy(spec)) for spec in model.schedules}
        self._schedule_specs = {spec.ref: spec for spec in model.schedules}
        self._schedule_attrs = {spec.ref: ScheduleAttributes(spec) for spec in model.schedules}
        self._controller_attrs = {spec.ref: ControllerAttributes(spec) for spec in model.controllers}
        self._bus = EventBus()
        self._published: dict[str, AttributeValue] = {}
        self._outputs: dict[str, ControllerOutput] = {}
        self._timeline: Timeline | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for: Timestamp | None = None
        self._now: Timestamp = 0.0
        self._deferred_status: _Status | None = None  # an entry boundary's, see STATUS_DELAY_S
        self._status_timer: asyncio.TimerHandle | None = None
        self._keys: dict[str, str] = {}  # schedule -> the intent key placed in it (see `program_slots`)
        self._forecasts = ForecastCache(self._output_changes)

    @property
    def model(self) -> ModelSpec:
        """The schedules, controllers and targets this engine runs."""
        return self._model

    @property
    def forecasts_computed(self) -> int:
        """How many forecasts were computed (the others were served from the cache)."""
        return self._forecasts.computed

    # ---- life cycle -------------------------------------------------------------------------------------

    def start(self) -> Mapping[str, str]:
        """Restore the stored state (or the SCL's), start the reserve schedules and arm the timer.

        Return the stored objects dropped because they did not fit (ref -> why; they are deleted).
        Raises `StoreError` when the store cannot be read or written.
        """
        self._loop = asyncio.get_running_loop()
        now = self._clock.now()
        pinned = frozenset(ref for ref, policy in self._policies.items() if not policy.allows_control())
        stored = self._store.load()
        restored = restore_timeline(self._model, stored, now, pinned)
        timeline = self._timeline = restored.timeline
        self._keys = {
            ref: key
            for ref, key in stored.keys.items()
            if ref in timeline.schedules and ref not in restored.dropped
        }
        self._forecasts.invalidate()
        self._now = now
        defaults = [a.defaults() for a in self._schedule_attrs.values()]
        defaults += [a.defaults() for a in self._controller_attrs.values()]
        for listing in defaults:
            self._published.update({ref: _invalid(value, now) for ref, value in listing.items()})
        schedules, controllers = list(timeline.schedules.values()), list(timeline.controllers.values())
        self._publish((now, schedules, {}, controllers), emit=False)  # the baseline snapshot() shows
        self._store.commit(
            [s.record() for s in schedules],
            [c.record() for c in controllers],
            (*restored.dropped, *(ref for ref in stored.keys if ref not in self._keys)),
        )
        self._rearm()
        return restored.dropped

    def stop(self) -> None:
        """Cancel the timer; later commands are answered temporarily-unavailable."""
        self._disarm()
        self._flush_status()
        self._timeline = None
        self._loop = None

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register a synchronous event callback (called on the loop); return its unsubscribe function."""
        return self._bus.subscribe(callback)

    def time_to_next_instant(self) -> float | None:
        """Seconds until the next start, entry boundary or end of any schedule (None: nothing is due).

        The instant the timer is armed for: O(1), for callers that ask at every turn (the MMS serve loop).
        """
        nominal = self._armed_for
        return None if nominal is None else nominal - self._clock.now()

    def timer_lag(self) -> float:
        """How far the wall clock is past the armed timer's nominal instant: a stuck core shows here."""
        if self._armed_for is None:
            return 0.0
        return max(0.0, self._clock.now() - self._armed_for)

    def clock_stepped(self) -> None:
        """Re-evaluate every schedule at the new wall time and re-arm (call after an NTP step)."""
        timeline = self._timeline
        if timeline is None:
            return
        now = self._clock.now()
        _log.info("wall clock stepped", by=now - self._now)
        self._disarm()
        self._flush_status()
        before = {s.ref: (s.params, s.enabled) for s in timeline.schedules.values()}
        for schedule in timeline.schedules.values():
            schedule.jump_to(now)
        self._forecasts.invalidate()
        self._now = now
        self._settle(now, timeline.schedules.values(), before)
        self._rearm()

    # ---- commands ---------------------------------------------------------------------------------------

    def write(self, ref: str, value: object, actor: Actor) -> CommandResult:
        """Write one parameter DA (`<FSCH>.ValASG001.setMag.f`, `.StrTm01.setTm`, `<FSCC>.Schd03.setSrcRef`).

        Values: float (ASG), bool (SPG, SchdReuse), int (ING, ENG, NumEntr, SchdIntv, SchdPrio, setCal
        members), float epoch seconds (setTm), `CalendarTime` (whole setCal), str (references).
        """
        return self._command(
            "write", [ref], actor, lambda now, full: self._write(full[0], value, actor, now), asked=value
        )

    def operate(self, ref: str, ctl_val: bool, test: bool, actor: Actor) -> CommandResult:
        """Operate `<FSCH>.EnaReq` or `<FSCH>.DsaReq` (direct control with normal security)."""
        return self._command(
            "operate", [ref], actor, lambda now, full: self._operate(full[0], ctl_val, test, actor, now)
        )

    def program(self, ref: str, program: Program, actor: Actor) -> CommandResult:
        """Write a whole schedule (`<FSCH>`) and enable it, as one command.

        Validated as a whole (locks, rights, types, enable validation) before anything changes, persisted in
        one store transaction, published once; a run in progress is replaced. A refusal changes nothing,
        not even `SchdEnaErr`.
        """
        return self.program_slots({ref: program}, actor)

    def program_slots(
        self,
        programs: Mapping[str, Program | None],
        actor: Actor,
        keys: Mapping[str, str | None] | None = None,
    ) -> CommandResult:
        """Program several schedules (`<FSCH>` -> `Program`, or None to disable one) as one command.

        As `program`, for all of them together: validated as a whole, persisted in one store transaction
        with `keys` (schedule -> the intent key it now holds, None: none), published once, each schedule
        audited; a refusal changes nothing. The intent API's one step: a chain, an overwrite, a cancel.
        """
        full_keys = {full_ref(ref, self._model.ied_name): key for ref, key in (keys or {}).items()}
        return self._command(
            "program",
            list(programs),
            actor,
            lambda now, full: self._program(
                dict(zip(full, programs.values(), strict=True)), full_keys, actor, now
            ),
        )

    def intent_keys(self) -> Mapping[str, str]:
        """The intent key each schedule holds (schedule -> key), as `program_slots` stored them."""
        return dict(self._keys)

    def check(self, steps: Sequence[Step], actor: Actor) -> list[CommandResult]:
        """What `write` and `operate` would answer to `steps`, one after the other, changing nothing.

        The steps go through the very rules of those commands, on copies of the schedules they name, each
        step seeing the ones before it. The answers end with the first refusal. Nothing is persisted,
        published or audited. Only schedule parameters and `EnaReq`/`DsaReq` can be checked.
        """
        timeline = self._timeline
        if timeline is None:
            return [Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")]
        now = self._command_time()
        self._catch_up(now, defer_status=True)  # as `forecast`: the copies start from the present
        copies: dict[str, Schedule] = {}
        results: list[CommandResult] = []
        for step in steps:
            full = full_ref(step.ref, self._model.ied_name)
            try:
                owner = self._schedule_owner(full)
                if owner not in copies:
                    copies[owner] = timeline.schedules[owner].clone()
                self._try(replace(step, ref=full), copies[owner], actor, now, lambda mutate: mutate())
            except RejectionError as rejection:
                results.append(rejection.rejected)
                break
            results.append(ACCEPTED)
        return results

    def read(self, ref: str) -> AttributeValue | Rejected:
        """Return the current value of one DA (both reference forms accepted)."""
        self._flush_status()  # a read sees the status of the last instant, deferred or not
        full = full_ref(ref, self._model.ied_name)
        if full in self._published:
            return self._published[full]
        timeline = self._timeline
        if timeline is None:
            return Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")
        listing = self._parameters(timeline, owner_of(full))
        if full in listing:
            return AttributeValue(listing[full], quality_good=True, timestamp=self._now)
        head, member = split_last(full)
        cal = listing.get(head)
        if isinstance(cal, CalendarTime) and member in CALENDAR_FIELDS:
            return AttributeValue(
                getattr(cal, CALENDAR_FIELDS[member][0]), quality_good=True, timestamp=self._now
            )
        return Rejected(RejectReason.OBJECT_UNDEFINED, f"no attribute {full!r}")

    def snapshot(self) -> dict[str, AttributeValue]:
        """Every attribute the scheduler serves (parameters and status), for an adapter's start-up."""
        self._flush_status()
        timeline = self._timeline
        if timeline is None:
            return {}
        attributes = {
            ref: AttributeValue(value, quality_good=True, timestamp=self._now)
            for owner in [*timeline.schedules, *timeline.controllers]
            for ref, value in self._parameters(timeline, owner).items()
        }
        attributes.update(self._published)
        return attributes

    def output(self, controller_ref: str) -> ControllerOutput | None:
        """The current output of a controller (None for an unknown controller or before start)."""
        full = full_ref(controller_ref, self._model.ied_name)
        return self._outputs.get(full) if self._timeline is not None else None

    def forecast(self, controller_ref: str, t0: Timestamp, t1: Timestamp) -> list[ForecastPoint]:
        """The output of a controller over [t0, t1] if nothing is written meanwhile (equal values merged).

        Served from a per-controller cache (`ForecastCache`): a command drops the forecasts of the
        controllers it changes, a clock step all of them.
        """
        full = full_ref(controller_ref, self._model.ied_name)
        timeline = self._timeline
        if timeline is None or full not in timeline.controllers:
            return []
        return self._forecasts.get(full, t0, t1, self._command_time())

    def _output_changes(self, controller_ref: str, now: Timestamp, until: Timestamp) -> list[ForecastPoint]:
        """The cache's computation: `output_changes` of the timeline as of `now`."""
        # An instant due and its timer not yet run: do the timer's work, the devices' outputs first.
        self._catch_up(now, defer_status=True)
        assert self._timeline is not None
        return output_changes(self._timeline, controller_ref, now, until)

    # ---- command handling -------------------------------------------------------------------------------

    def _command(
        self,
        kind: str,
        refs: Sequence[str],
        actor: Actor,
        handler: Callable[[Timestamp, list[str]], None],
        asked: object = None,
    ) -> CommandResult:
        """Run `handler`, emit a `CommandHandled` per ref; `asked` is a write's value, audited if refused."""
        fulls = [full_ref(ref, self._model.ied_name) for ref in refs]
        result: CommandResult = ACCEPTED
        # An operate or a program is audited by the state of its schedule, a write by the written attribute.
        audited = [_audited(kind, full) for full in fulls]
        olds = [self._value_of(ref) for ref in audited]
        now = self._clock.now()
        if self._timeline is None:
            result = Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")
        else:
            now = self._command_time()
            self._catch_up(now)
            try:
                handler(now, fulls)
            except RejectionError as rejection:
                result = rejection.rejected
            self._rearm()
        for full, ref, old in zip(fulls, audited, olds, strict=True):
            if result is ACCEPTED:
                new: object = self._value_of(ref)
            else:  # the audit shows what was refused; an operate asks for no value of SchdSt
                new = asked if kind == "write" else old
            self._bus.emit(CommandHandled(kind, full, actor, old, new, result, now))
        return result

    def _value_of(self, ref: str) -> AttributeData | None:
        current = self.read(ref)
        return current.value if isinstance(current, AttributeValue) else None

    def _write(self, ref: str, value: object, actor: Actor, now: Timestamp) -> None:
        owner = owner_of(ref)
        if owner in self._schedule_attrs:
            self._run(Write(ref, value), actor, now)
        elif owner in self._controller_attrs:
            self._write_controller(owner, ref, value, actor, now)
        else:
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"no schedule or controller {owner!r}")

    def _run(self, step: Step, actor: Actor, now: Timestamp) -> None:
        """Carry out a command on a schedule: an accepted change is persisted and published."""
        schedule = self._schedules()[self._schedule_owner(step.ref)]
        self._try(step, schedule, actor, now, lambda mutate: self._change(now, [schedule], [], mutate))

    def _try(
        self,
        step: Step,
        schedule: Schedule,
        actor: Actor,
        now: Timestamp,
        change: Callable[[Callable[[], None]], None],
    ) -> None:
        """Decide `step` on `schedule`, hand an accepted change to `change`; RejectionError when refused.

        A failed enable is a change too (SchdEnaErr, NOT_READY), refused once it has been made.
        """
        if isinstance(step, Write):
            params = self._schedule_write(schedule, step.ref, step.value, actor, now)
            change(lambda: schedule.set_params(params, now))
            return
        mutate = self._control(schedule, step, actor, now)
        if mutate is not None:
            change(mutate)
        if step.enables and schedule.ena_err is not EnaErr.NONE:
            raise RejectionError(
                RejectReason.VALUE_INVALID,
                f"{schedule.ref} cannot be enabled: {schedule.ena_err.text}",
                schd_ena_err=int(schedule.ena_err),
            )

    def _schedule_write(
        self, schedule: Schedule, ref: str, value: object, actor: Actor, now: Timestamp
    ) -> ScheduleParams:
        """The parameters `schedule` has after the write of `value` to `ref`; RejectionError when refused."""
        owner = schedule.ref
        attrs = self._schedule_attrs[owner]
        address = attrs.address(ref)
        if address is None:
            if attrs.is_status(ref):
                raise RejectionError(RejectReason.ACCESS_DENIED, f"{ref} is read-only")
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"no writable attribute {ref!r}")
        if not self._policies[owner].allows_write(address.param.lockable):
            raise RejectionError(
                RejectReason.ACCESS_DENIED, f"{address.param.lockable.value} of {owner} is locked"
            )
        priority = value if address.param is Param.SCHD_PRIO and isinstance(value, int) else None
        _deny(self._rights.schedule_denial(actor, owner, priority))
        try:
            params = apply_write(schedule.spec, schedule.params, address, value)
        except CoercionError as exc:
            raise _coercion_rejection(ref, exc) from exc
        if address.param is Param.SET_TM and _run_is_over(
            params, address.index, schedule.spec.intv_unit, now
        ):
            raise RejectionError(RejectReason.VALUE_INVALID, f"{ref}: the run starting then is already over")
        error = schedule.write_error(params)
        if error is not EnaErr.NONE:
            raise RejectionError(
                RejectReason.VALUE_INVALID, f"{ref}: would leave the enabled schedule with {error.text}"
            )
        return params

    def _program(
        self,
        programs: Mapping[str, Program | None],
        keys: Mapping[str, str | None],
        actor: Actor,
        now: Timestamp,
    ) -> None:
        """Check every program (and disable) first, then make them all as one change."""
        if len(programs) == 0:
            raise RejectionError(RejectReason.VALUE_INVALID, "no schedule to program")
        unknown = [ref for ref in [*programs, *keys] if ref not in self._schedule_attrs]
        if unknown:
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"no schedule {unknown[0]!r}")
        changes = [
            (self._schedules()[ref], self._programmed(ref, p, actor, now)) for ref, p in programs.items()
        ]

        def replace_and_enable() -> None:
            for schedule, params in changes:
                schedule.disable(now)  # a run in progress ends here, unconsumed, as after DsaReq
                if params is not None:
                    schedule.set_params(params, now)
                    schedule.enable(now)

        self._change(now, [schedule for schedule, _ in changes], [], replace_and_enable, keys=keys)

    def _programmed(
        self, ref: str, program: Program | None, actor: Actor, now: Timestamp
    ) -> ScheduleParams | None:
        """The parameters `program` gives `ref` (None: it is disabled); RejectionError when refused."""
        policy = self._policies[ref]
        groups = _PROGRAMMED if program is not None else ()
        locked = [group.value for group in groups if not policy.allows_write(group)]
        if not policy.allows_control():
            locked.append("enable/disable")
        if locked:
            raise RejectionError(RejectReason.ACCESS_DENIED, f"{', '.join(locked)} of {ref} locked")
        _deny(self._rights.schedule_denial(actor, ref, None if program is None else program.schd_prio))
        if program is None:
            return None
        if isinstance(program.start, Now):
            program = replace(program, start=math.floor(now) + program.start.after_s)
        schedule = self._schedules()[ref]
        try:
            params = apply_program(schedule.spec, schedule.params, program)
        except CoercionError as exc:
            raise _coercion_rejection(ref, exc) from exc
        error = enable_error(params, schedule.spec.intv_unit, now)
        if error is not EnaErr.NONE:
            raise RejectionError(
                RejectReason.VALUE_INVALID, f"{ref} cannot be enabled: {error.text}", schd_ena_err=int(error)
            )
        return params

    def _write_controller(self, owner: str, ref: str, value: object, actor: Actor, now: Timestamp) -> None:
        attrs = self._controller_attrs[owner]
        controller = self._controllers()[owner]
        slot = attrs.slot_of(ref)
        if ref != attrs.ctl_ent_ref and slot is None:
            if attrs.is_status(ref):
                raise RejectionError(RejectReason.ACCESS_DENIED, f"{ref} is read-only")
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"no writable attribute {ref!r}")
        _deny(self._rights.controller_denial(actor, owner))
        if not isinstance(value, str):
            raise RejectionError(
                RejectReason.TYPE_CONFLICT, f"{ref}: expected an object reference, got {value!r}"
            )
        target = full_ref(value, self._model.ied_name)
        refs = list(controller.schedule_refs)
        ctl_ent = controller.ctl_ent
        if slot is None:
            problem = ctl_ent_problem(controller.spec, target, self._model.targets)
            ctl_ent = target
        else:
            self._check_slot_unlocked(ref, refs[slot], target)
            problem = schedule_ref_problem(controller.spec, target, self._schedule_specs)
            if problem is None and target and target in refs and refs[slot] != target:
                problem = f"{target!r} is already in the schedule list"
            refs[slot] = target
        if problem is not None:
            raise RejectionError(RejectReason.VALUE_INVALID, f"{ref}: {problem}")
        self._change(now, [], [controller], lambda: controller.rebind(tuple(refs), ctl_ent))

    def _check_slot_unlocked(self, ref: str, held: str, target: str) -> None:
        """Refuse to move a schedule whose enable/disable is locked out of its slot: unbinding disables it."""
        if held and held != target and not self._policies[held].allows_control():
            raise RejectionError(
                RejectReason.ACCESS_DENIED, f"{ref}: {held} is locked in its slot, as its enable/disable"
            )

    def _operate(self, ref: str, ctl_val: bool, test: bool, actor: Actor, now: Timestamp) -> None:
        self._run(Operate(ref, ctl_val, test), actor, now)

    def _schedule_owner(self, ref: str) -> str:
        """The schedule (`LD/LN`) that `ref` belongs to; RejectionError when it is none."""
        owner = owner_of(ref)
        if owner not in self._schedule_attrs:
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"{ref}: {owner!r} is not a schedule")
        return owner

    def _control(
        self, schedule: Schedule, step: Operate, actor: Actor, now: Timestamp
    ) -> Callable[[], None] | None:
        """The change an operate of EnaReq/DsaReq makes (None: none); RejectionError when refused."""
        owner = schedule.ref
        control = step.control
        if control not in ("EnaReq", "DsaReq"):
            raise RejectionError(
                RejectReason.OBJECT_UNDEFINED, f"{step.ref} is not EnaReq or DsaReq of a schedule"
            )
        if not self._policies[owner].allows_control():
            raise RejectionError(RejectReason.ACCESS_DENIED, f"enable/disable of {owner} is locked")
        # Enabling puts the schedule's priority to use: it must be within the actor's band.
        priority = schedule.params.schd_prio if control == "EnaReq" and step.ctl_val else None
        _deny(self._rights.schedule_denial(actor, owner, priority))
        if not step.ctl_val or step.test:
            return None
        if control == "DsaReq":
            return lambda: schedule.disable(now)
        return lambda: self._enable(schedule, now)

    @staticmethod
    def _enable(schedule: Schedule, now: Timestamp) -> None:
        schedule.enable(now)

    def _change(
        self,
        now: Timestamp,
        schedules: list[Schedule],
        controllers: list[Controller],
        mutate: Callable[[], None],
        *,
        keys: Mapping[str, str | None] | None = None,
    ) -> None:
        """Apply one accepted change, persist it with `keys` (or undo it), then publish what changed."""
        timeline = self._timeline
        assert timeline is not None  # commands run only after start()
        before = {s.ref: (s.params, s.enabled) for s in schedules}
        schedule_backups = [s.clone() for s in schedules]
        controller_backups = [c.record() for c in controllers]
        controller_params = {c.ref: self._parameters(timeline, c.ref) for c in controllers}
        mutate()
        try:
            self._store.commit([s.record() for s in schedules], [c.record() for c in controllers], (), keys)
        except StoreError as exc:
            for backup in schedule_backups:
                timeline.schedules[backup.ref] = backup
            for record in controller_backups:
                timeline.controllers[record.ref] = Controller(timeline.controllers[record.ref].spec, record)
            _log.exception("store failed, change undone")
            raise RejectionError(RejectReason.TEMPORARILY_UNAVAILABLE, "the state store failed") from exc
        for ref, key in (keys or {}).items():
            if key is None:
                self._keys.pop(ref, None)
            else:
                self._keys[ref] = key
        affected = timeline.affected(schedules, controllers)
        self._forecasts.invalidate(c.ref for c in affected)
        self._publish(
            (now, schedules, before, affected),
            parameter_events=[
                event
                for controller in controllers
                for event in self._parameter_events(controller_params[controller.ref], controller.ref, now)
            ],
        )

    # ---- timing -----------------------------------------------------------------------------------------

    def _on_timer(self, nominal: Timestamp) -> None:
        self._timer = self._armed_for = None
        now = self._clock.now()
        if abs(now - nominal) > STEP_TOLERANCE:
            self.clock_stepped()
            return
        if nominal - now > EARLY_TOLERANCE:
            self._arm(nominal, lead=FINAL_LEAD)  # the final approach: a short timer is precise
            return
        self._catch_up(max(nominal, now), defer_status=True)
        self._rearm()

    def _catch_up(self, until: Timestamp, *, defer_status: bool = False) -> None:
        """Process every instant up to `until` in order, each at its nominal time."""
        timeline = self._timeline
        assert timeline is not None
        while (t := timeline.next_instant()) is not None and t <= until:
            # A deferred status shows the state of its own instant: finish it before the next one (commands
            # and reads finish it themselves, before they look at or change anything).
            self._flush_status()
            due = timeline.due(t)
            before = {s.ref: (s.params, s.enabled) for s in due}
            for schedule in due:
                schedule.advance_to(t)
            self._now = t
            self._settle(t, due, before, defer_status=defer_status)
        self._now = max(self._now, until)

    def _settle(
        self,
        t: Timestamp,
        schedules: Iterable[Schedule],
        before: Mapping[str, tuple[ScheduleParams, bool]],
        *,
        defer_status: bool = False,
    ) -> None:
        """Publish the changes of schedules that moved on by themselves and persist consumed start times.

        With `defer_status` only the outputs at once, the rest `STATUS_DELAY_S` later: a restart within that
        time consumes the start times again from the stored state (`jump_to`).
        """
        timeline = self._timeline
        assert timeline is not None
        schedules = list(schedules)
        controllers = timeline.affected(schedules)
        self._publish_outputs(t, controllers)
        status = (t, schedules, before, controllers)
        if defer_status:
            self._defer_status(status)
        else:
            self._finish(status)

    def _finish(self, status: _Status) -> None:
        """The status half of `_settle`: publish the status, persist the schedules that changed."""
        _, schedules, before, _ = status
        self._publish_status(status)
        changed = [s for s in schedules if (s.params, s.enabled) != before[s.ref]]
        if changed:
            try:
                self._store.commit([s.record() for s in changed])
            except StoreError:
                _log.exception("store failed, consumed start times not persisted")

    def _command_time(self) -> Timestamp:
        # A timer may fire a little early; commands never act before an instant already processed.
        return max(self._clock.now(), self._now)

    def _rearm(self) -> None:
        timeline = self._timeline
        if timeline is None:
            return
        nominal = timeline.next_instant()
        if nominal != self._armed_for:
            self._disarm()
            if nominal is not None:
                # Kernels let a timer fire late by a fraction of its timeout (Linux: 0.1 %); aim early by
                # more than that and finish with a short timer (see _on_timer).
                self._arm(nominal, lead=min(MAX_LEAD, 0.002 + 0.002 * (nominal - self._clock.now())))

    def _arm(self, nominal: Timestamp, lead: float) -> None:
        loop = self._loop
        assert loop is not None
        # Wall -> loop time, sampled now: loop time is monotonic, the wall clock may step later.
        self._timer = loop.call_at(
            loop.time() + (nominal - lead - self._clock.now()), self._on_timer, nominal
        )
        self._armed_for = nominal

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._armed_for = None

    # ---- publishing -------------------------------------------------------------------------------------

    def _publish(self, status: _Status, *, emit: bool = True, parameter_events: Iterable[Event] = ()) -> None:
        """Update the published state and emit what changed, output events first (latency counts)."""
        self._publish_outputs(status[0], status[3], emit=emit)
        self._publish_status(status, emit=emit, parameter_events=parameter_events)

    def _publish_outputs(self, t: Timestamp, controllers: Iterable[Controller], *, emit: bool = True) -> None:
        """Work out the output of `controllers` at `t`; emit the changed ones."""
        schedules = self._schedules()
        outputs = [(controller, controller.output(schedules)) for controller in controllers]
        changed = [(c, o) for c, o in outputs if o != self._outputs.get(c.ref)]
        for controller, output in changed:
            self._outputs[controller.ref] = output
        if emit:
            self._emit([OutputChanged(c.ref, o.value, o.source, o.priority, t) for c, o in changed])

    def _publish_status(
        self, status: _Status, *, emit: bool = True, parameter_events: Iterable[Event] = ()
    ) -> None:
        """Update the status attributes of the schedules and controllers at `t`; emit the changes."""
        t, schedules, before, controllers = status
        attributes: list[Event] = list(parameter_events)
        for schedule in schedules:
            params_before = before.get(schedule.ref, (schedule.params, schedule.enabled))[0]
            if params_before is not schedule.params:
                attrs = self._schedule_attrs[schedule.ref]
                attributes += self._parameter_events(attrs.parameters(params_before), schedule.ref, t)
            for item in self._schedule_attrs[schedule.ref].status(schedule.status()):
                self._update(attributes, item, t)
        for controller in controllers:
            output = self._outputs[controller.ref]
            for item in self._controller_attrs[controller.ref].status(output):
                self._update(attributes, item, t)
            target = self._model.targets.get(controller.ctl_ent)
            if target is not None:
                self._published.setdefault(target.value_ref, _invalid(target.value_type.default, t))
                self._update(
                    attributes, StatusItem(target.value_ref, output.value, output.value is not None), t
                )
        if emit:
            self._emit(attributes)

    def _defer_status(self, status: _Status) -> None:
        """Finish an entry boundary `STATUS_DELAY_S` after its outputs (see there): status, then store."""
        loop = self._loop
        assert loop is not None
        self._deferred_status = status
        self._status_timer = loop.call_later(STATUS_DELAY_S, self._flush_status)

    def _flush_status(self) -> None:
        """Finish a deferred entry boundary now: before anything moves the schedules on again."""
        deferred, self._deferred_status = self._deferred_status, None
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        if deferred is not None:
            self._finish(deferred)

    def _update(self, events: list[Event], item: StatusItem, t: Timestamp) -> None:
        """Publish one status attribute at `t` if it changed; a value of None keeps the last value.

        An attribute with its own time (a schedule's output) also changes with it: each boundary counts.
        """
        old = self._published[item.ref]
        shown = old.value if item.value is None else item.value
        stamp = t if item.stamp is None else item.stamp
        if (
            old.quality_good == item.quality_good
            and old.value == shown
            and (item.stamp is None or old.timestamp == stamp)
        ):
            return
        self._published[item.ref] = AttributeValue(shown, quality_good=item.quality_good, timestamp=stamp)
        events.append(AttributeChanged(item.ref, shown, quality_good=item.quality_good, timestamp=stamp))

    def _parameter_events(self, old: Mapping[str, AttributeData], owner: str, t: Timestamp) -> list[Event]:
        timeline = self._timeline
        assert timeline is not None
        new = self._parameters(timeline, owner)
        return [
            AttributeChanged(ref, value, quality_good=True, timestamp=t)
            for ref, value in new.items()
            if not _same(old.get(ref), value)
        ]

    def _parameters(self, timeline: Timeline, owner: str) -> dict[str, AttributeData]:
        if owner in timeline.schedules:
            return self._schedule_attrs[owner].parameters(timeline.schedules[owner].params)
        if owner in timeline.controllers:
            controller = timeline.controllers[owner]
            return self._controller_attrs[owner].parameters(controller.schedule_refs, controller.ctl_ent)
        return {}

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            self._bus.emit(event)

    def _schedules(self) -> dict[str, Schedule]:
        assert self._timeline is not None
        return self._timeline.schedules

    def _controllers(self) -> dict[str, Controller]:
        assert self._timeline is not None
        return self._timeline.controllers


def _audited(kind: str, ref: str) -> str:
    """What a command is audited by: an operate or a program by its schedule's state, a write by the DA."""
    if kind == "operate":
        return f"{owner_of(ref)}.SchdSt.stVal"
    return f"{ref}.SchdSt.stVal" if kind == "program" else ref


def _deny(denial: str | None) -> None:
    if denial is not None:
        raise RejectionError(RejectReason.ACCESS_DENIED, denial)


def _coercion_rejection(ref: str, exc: CoercionError) -> RejectionError:
    reason = RejectReason.TYPE_CONFLICT if exc.type_conflict else RejectReason.VALUE_INVALID
    return RejectionError(reason, f"{ref}: {exc}")


def _run_is_over(params: ScheduleParams, slot: int, intv_unit: float, now: Timestamp) -> bool:
    """Return whether a one-shot start time's run would already be over (a periodic one never is)."""
    start = params.starts[slot]
    duration = params.num_entr * params.schd_intv * intv_unit
    return start.is_set and not start.periodic and start.set_tm + duration <= now


def _invalid(value: AttributeData, t: Timestamp) -> AttributeValue:
    return AttributeValue(value, quality_good=False, timestamp=t)


def _same(old: AttributeData | None, new: AttributeData) -> bool:
    """Equality that treats NaN (a "missing" schedule value) as equal to itself."""
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return old == new
