"""One FSCC schedule controller: its schedule list, its controlled entity and the priority resolution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relevent.scheduler.schedule import Schedule
from relevent.scheduler.spec import ControllerSpec, ScheduleSpec, TargetSpec
from relevent.scheduler.values import ScheduleValue, Timestamp


@dataclass(frozen=True)
class ControllerOutput:
    """What a controller outputs: the active schedule's value, or "no value" (all None)."""

    value: ScheduleValue | None = None
    source: str | None = None
    priority: int | None = None


NO_VALUE = ControllerOutput()


@dataclass(frozen=True)
class ControllerRecord:
    """The persistent state of a controller: its references."""

    ref: str
    schedule_refs: tuple[str, ...]
    ctl_ent: str


def schedule_ref_problem(spec: ControllerSpec, ref: str, schedules: Mapping[str, ScheduleSpec]) -> str | None:
    """Return why full reference `ref` cannot be a `SchdNN` of this controller ("" empties a slot)."""
    if not ref:
        return None
    schedule = schedules.get(ref)
    if schedule is None:
        return f"{ref!r} is not a schedule (FSCH)"
    if schedule.kind.value_type is not spec.value_type:
        return (
            f"{ref!r} schedules {schedule.kind.value} values, the controller outputs {spec.value_type.value}"
        )
    return None


def ctl_ent_problem(spec: ControllerSpec, ref: str, targets: Mapping[str, TargetSpec]) -> str | None:
    """Return why full reference `ref` cannot be the `CtlEnt` of this controller ("" controls nothing)."""
    if not ref:
        return None
    target = targets.get(ref)
    if target is None:
        return f"{ref!r} is not a controllable data object or attribute"
    if target.value_type is not spec.value_type:
        return (
            f"{ref!r} takes {target.value_type.value} values, the controller outputs {spec.value_type.value}"
        )
    return None


def resolve_active(running: list[tuple[int, Schedule]]) -> Schedule | None:
    """Pick the active schedule among (list position, RUNNING schedule) pairs (spec section 5).

    Highest `SchdPrio`; on equal priority the later actual start; on equal start the lower list position.
    """
    best = max(running, key=lambda item: (item[1].priority, _actual_start(item[1]), -item[0]), default=None)
    return best[1] if best else None


def _actual_start(schedule: Schedule) -> Timestamp:
    return schedule.run.start if schedule.run else float("-inf")


class Controller:
    """The mutable references of one FSCC; the output is derived from the schedules on demand."""

    def __init__(self, spec: ControllerSpec, record: ControllerRecord | None = None) -> None:
        self.spec = spec
        self.schedule_refs: tuple[str, ...] = record.schedule_refs if record else spec.schedule_refs
        self.ctl_ent: str = record.ctl_ent if record else spec.ctl_ent

    @property
    def ref(self) -> str:
        """The full object reference of the FSCC."""
        return self.spec.ref

    def output(self, schedules: Mapping[str, Schedule]) -> ControllerOutput:
        """Resolve the active schedule now and return its value, reference and priority."""
        running = [
            (position, schedule)
            for position, ref in enumerate(self.schedule_refs)
            if ref and (schedule := schedules[ref]).run is not None
        ]
        active = resolve_active(running)
        if active is None:
            return NO_VALUE
        return ControllerOutput(active.value, active.ref, active.priority)

    def rebind(self, schedule_refs: tuple[str, ...], ctl_ent: str) -> None:
        """Apply accepted `SchdNN` / `CtlEnt` writes."""
        self.schedule_refs = schedule_refs
        self.ctl_ent = ctl_ent

    def record(self) -> ControllerRecord:
        """Return the persistent state."""
        return ControllerRecord(self.ref, self.schedule_refs, self.ctl_ent)
