"""What a command may change: locks, rights, types and validity decide it, a mutation carries it out.

Deciding reads the current schedule or controller and changes nothing; the returned mutation is applied to
whichever object the caller chooses (a copy to persist first, or a copy a check plays on).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

from relevent.refs import full_ref, owner_of
from relevent.scheduler.attributes import (
    ControllerAttributes,
    Param,
    ScheduleAttributes,
    apply_program,
    apply_write,
)
from relevent.scheduler.commands import (
    Actor,
    Now,
    Operate,
    Program,
    RejectionError,
    RejectReason,
    Step,
    Write,
)
from relevent.scheduler.controller import Controller, ctl_ent_problem, schedule_ref_problem
from relevent.scheduler.policy import Lockable, Rights, SchedulePolicy
from relevent.scheduler.schedule import EnaErr, Schedule, ScheduleParams, enable_error
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.values import CoercionError, Timestamp

ScheduleMutation = Callable[[Schedule], None]
ControllerMutation = Callable[[Controller], None]

# What `program` writes: each group must be unlocked (and so must enable/disable).
_PROGRAMMED = (Lockable.VALUES, Lockable.NUM_ENTR, Lockable.SCHD_INTV, Lockable.SCHD_PRIO, Lockable.STR_TM)


class Rules:
    """The access, lock and validity rules of the scheduler's commands (IEC 61850-90-10 and the policies)."""

    def __init__(
        self,
        model: ModelSpec,
        policies: Mapping[str, SchedulePolicy],
        rights: Rights,
        schedule_attrs: Mapping[str, ScheduleAttributes],
        controller_attrs: Mapping[str, ControllerAttributes],
    ) -> None:
        self._model = model
        self._policies = policies
        self._rights = rights
        self._schedule_attrs = schedule_attrs
        self._controller_attrs = controller_attrs
        self._schedule_specs = {spec.ref: spec for spec in model.schedules}

    def schedule_owner(self, ref: str) -> str:
        """The schedule (`LD/LN`) that `ref` belongs to; RejectionError when it is none."""
        owner = owner_of(ref)
        if owner not in self._schedule_attrs:
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"{ref}: {owner!r} is not a schedule")
        return owner

    def step(self, step: Step, schedule: Schedule, actor: Actor, now: Timestamp) -> ScheduleMutation | None:
        """The change `step` makes to `schedule` (None: none); RejectionError when refused."""
        if isinstance(step, Write):
            params = self._schedule_write(schedule, step.ref, step.value, actor, now)
            return lambda s: s.set_params(params, now)
        return self._control(schedule, step, actor, now)

    @staticmethod
    def refusal(step: Step, changed: Schedule) -> RejectionError | None:
        """The refusal of an enable that failed once made: its SchdEnaErr is a change too (NOT_READY)."""
        if isinstance(step, Operate) and step.enables and changed.ena_err is not EnaErr.NONE:
            return RejectionError(
                RejectReason.VALUE_INVALID,
                f"{changed.ref} cannot be enabled: {changed.ena_err.text}",
                schd_ena_err=int(changed.ena_err),
            )
        return None

    def program(
        self, schedule: Schedule, program: Program | None, actor: Actor, now: Timestamp
    ) -> ScheduleMutation:
        """The change of a whole-schedule program (None: a disable); RejectionError when refused.

        Validated as a whole; a run in progress ends, unconsumed, as after DsaReq.
        """
        ref = schedule.ref
        policy = self._policies[ref]
        groups = _PROGRAMMED if program is not None else ()
        locked = [group.value for group in groups if not policy.allows_write(group)]
        if not policy.allows_control():
            locked.append("enable/disable")
        if locked:
            raise RejectionError(RejectReason.ACCESS_DENIED, f"{', '.join(locked)} of {ref} locked")
        _deny(self._rights.schedule_denial(actor, ref, None if program is None else program.schd_prio))
        if program is None:
            return _disable(now)
        if isinstance(program.start, Now):
            program = replace(program, start=math.floor(now) + program.start.after_s)
        try:
            params = apply_program(schedule.spec, schedule.params, program)
        except CoercionError as exc:
            raise _coercion_rejection(ref, exc) from exc
        error = enable_error(params, schedule.spec.intv_unit, now)
        if error is not EnaErr.NONE:
            raise RejectionError(
                RejectReason.VALUE_INVALID, f"{ref} cannot be enabled: {error.text}", schd_ena_err=int(error)
            )

        def replace_and_enable(target: Schedule) -> None:
            target.disable(now)
            target.set_params(params, now)
            target.enable(now)

        return replace_and_enable

    def controller_write(
        self, controller: Controller, ref: str, value: object, actor: Actor
    ) -> ControllerMutation:
        """The change of a `SchdNN` or `CtlEnt` write to `controller`; RejectionError when refused."""
        owner = controller.ref
        attrs = self._controller_attrs[owner]
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
        return lambda c: c.rebind(tuple(refs), ctl_ent)

    def _check_slot_unlocked(self, ref: str, held: str, target: str) -> None:
        """Refuse to move a schedule whose enable/disable is locked out of its slot: unbinding disables it."""
        if held and held != target and not self._policies[held].allows_control():
            raise RejectionError(
                RejectReason.ACCESS_DENIED, f"{ref}: {held} is locked in its slot, as its enable/disable"
            )

    def _control(
        self, schedule: Schedule, step: Operate, actor: Actor, now: Timestamp
    ) -> ScheduleMutation | None:
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
            return _disable(now)

        def enable(target: Schedule) -> None:
            target.enable(now)  # a failure shows in its SchdEnaErr (see `refusal`)

        return enable

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
        intv_unit = schedule.spec.intv_unit
        if address.param is Param.SET_TM and _run_is_over(params, address.index, intv_unit, now):
            raise RejectionError(RejectReason.VALUE_INVALID, f"{ref}: the run starting then is already over")
        error = schedule.write_error(params)
        if error is not EnaErr.NONE:
            raise RejectionError(
                RejectReason.VALUE_INVALID, f"{ref}: would leave the enabled schedule with {error.text}"
            )
        return params


def _disable(now: Timestamp) -> ScheduleMutation:
    return lambda target: target.disable(now)


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
