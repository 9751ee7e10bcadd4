"""Start-up: the timeline from the SCL model and whatever stored state still fits it (spec section 7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from relevent.scheduler.controller import (
    Controller,
    ControllerRecord,
    ctl_ent_problem,
    schedule_ref_problem,
)
from relevent.scheduler.schedule import EnaErr, Schedule, ScheduleRecord
from relevent.scheduler.spec import ControllerSpec, ModelSpec, ScheduleSpec
from relevent.scheduler.timeline import Timeline
from relevent.scheduler.values import Timestamp


@dataclass(frozen=True)
class StoredState:
    """What a store holds; rows it could not decode are in `unreadable` (ref -> why).

    `keys` are the intent keys of the schedules that intents were placed in (schedule ref -> key).
    """

    schedules: dict[str, ScheduleRecord] = field(default_factory=dict)
    controllers: dict[str, ControllerRecord] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RestoreNote:
    """Something stored that start-up could not take as it was: a warning for the runtime to log."""

    event: str
    ref: str
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Restored:
    """The timeline at start-up, the stored refs that did not fit the model (to delete) with why, notes."""

    timeline: Timeline
    dropped: dict[str, str]
    notes: tuple[RestoreNote, ...] = ()


def restore_timeline(
    model: ModelSpec, stored: StoredState, now: Timestamp, pinned: frozenset[str] = frozenset()
) -> Restored:
    """Rebuild every schedule and controller at `now`; start the reserve schedules.

    A stored run still in progress resumes at the right entry; one that ended meanwhile has ended. A stored
    controller that moved a `pinned` schedule (one whose enable/disable is locked) out of its SCL slot is
    dropped: unbinding it would have disabled it.
    """
    dropped = dict(stored.unreadable)
    notes = [
        RestoreNote("stored state unreadable, dropped", ref, {"problem": problem})
        for ref, problem in stored.unreadable.items()
    ]
    schedule_specs = {spec.ref: spec for spec in model.schedules}
    controller_specs = {spec.ref: spec for spec in model.controllers}
    for ref in [*stored.schedules, *stored.controllers]:
        if ref not in schedule_specs and ref not in controller_specs:
            notes.append(RestoreNote("stored object no longer in the SCL model, dropped", ref))
            dropped[ref] = "no longer in the SCL model"

    schedules = []
    for spec in model.schedules:
        schedule = _restore_schedule(spec, stored.schedules.get(spec.ref), now, dropped, notes)
        if spec.reserve and not schedule.enabled and schedule.enable(now) is not EnaErr.NONE:
            notes.append(RestoreNote("reserve schedule cannot start", spec.ref,
                                     {"schd_ena_err": int(schedule.ena_err)}))
        schedules.append(schedule)
    controllers = [
        _restore_controller(
            spec, stored.controllers.get(spec.ref), model, schedule_specs, pinned=pinned, dropped=dropped,
            notes=notes,
        )
        for spec in model.controllers
    ]
    return Restored(Timeline(schedules, controllers), dropped, tuple(notes))


def schedule_misfit(spec: ScheduleSpec, record: ScheduleRecord) -> str | None:
    """Return why a stored schedule no longer fits its SCL description, or None."""
    params = record.params
    if record.kind != spec.kind.value:
        return f"value kind changed from {record.kind} to {spec.kind.value}"
    if len(params.values) != len(spec.value_names):
        return f"value slots changed from {len(params.values)} to {len(spec.value_names)}"
    if [s.periodic for s in params.starts] != [s.periodic for s in spec.start_times]:
        return "start times changed"
    if any(type(v) is not type(spec.kind.value_type.default) for v in params.values):
        return "stored values have the wrong type"
    return None


def _restore_schedule(
    spec: ScheduleSpec,
    record: ScheduleRecord | None,
    now: Timestamp,
    dropped: dict[str, str],
    notes: list[RestoreNote],
) -> Schedule:
    if record is not None:
        problem = schedule_misfit(spec, record)
        if problem is None:
            schedule = Schedule.from_record(spec, record)
            schedule.jump_to(now)
            return schedule
        notes.append(RestoreNote("stored schedule does not fit the SCL model, dropped", spec.ref,
                                 {"problem": problem}))
        dropped[spec.ref] = problem
    schedule = Schedule(spec)
    schedule.resync(now)
    return schedule


def _restore_controller(  # noqa: PLR0913 - what a stored controller is checked against
    spec: ControllerSpec,
    record: ControllerRecord | None,
    model: ModelSpec,
    schedule_specs: dict[str, ScheduleSpec],
    *,
    pinned: frozenset[str],
    dropped: dict[str, str],
    notes: list[RestoreNote],
) -> Controller:
    if record is None:
        return Controller(spec)
    unbound = [ref for ref in spec.schedule_refs if ref in pinned and ref not in record.schedule_refs]
    problems = [
        "SchdNN count changed" if len(record.schedule_refs) != len(spec.schedule_names) else None,
        f"{unbound[0]} is unbound, but its enable/disable is locked" if unbound else None,
        *(schedule_ref_problem(spec, ref, schedule_specs) for ref in record.schedule_refs),
        ctl_ent_problem(spec, record.ctl_ent, model.targets),
    ]
    problem = next((p for p in problems if p is not None), None)
    if problem is None:
        return Controller(spec, record)
    notes.append(RestoreNote("stored controller does not fit the SCL model, dropped", spec.ref,
                             {"problem": problem}))
    dropped[spec.ref] = problem
    return Controller(spec)
