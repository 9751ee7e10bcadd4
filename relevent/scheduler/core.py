"""The pure scheduler engine: it is given `now`, and returns what happened; it has no loop, store or clock.

Commands decide on the current state and return a `Change` (copies of what they change); the runtime
stores its rows and hands it back to `apply`, which swaps it in and returns the events (a runtime that
applies before the store answered undoes a failed store with `undo_of`). Time moves
through `advance(until)`, instant by instant at each one's nominal time, and `jump_to(now)` after a
wall-clock step; both return an `Outcome`. An entry boundary may leave its status attributes pending
(`finish_pending` publishes them): its outputs go out first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from relevent.refs import full_ref, owner_of
from relevent.scheduler.commands import (
    ACCEPTED,
    Actor,
    CommandResult,
    Operate,
    Program,
    Rejected,
    RejectionError,
    RejectReason,
    Step,
    Write,
)
from relevent.scheduler.controller import Controller, ControllerOutput, ControllerRecord
from relevent.scheduler.events import AttributeValue, Event
from relevent.scheduler.forecast import ForecastPoint, output_changes
from relevent.scheduler.forecast_cache import ForecastCache
from relevent.scheduler.mirror import Mirror, Moved, positions
from relevent.scheduler.policy import UNRESTRICTED, Rights, SchedulePolicy, default_policy
from relevent.scheduler.restore import RestoreNote, StoredState, restore_timeline
from relevent.scheduler.rules import Rules
from relevent.scheduler.schedule import Schedule, ScheduleRecord
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.timeline import Timeline
from relevent.scheduler.values import Timestamp


@dataclass(frozen=True)
class Rows:
    """State to store in one transaction: records to write, refs whose rows to delete, intent keys.

    `keys` maps a schedule to the intent key it now holds (None: forget its key).
    """

    schedules: tuple[ScheduleRecord, ...] = ()
    controllers: tuple[ControllerRecord, ...] = ()
    dropped: tuple[str, ...] = ()
    keys: Mapping[str, str | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.schedules or self.controllers or self.dropped or self.keys)


@dataclass
class Outcome:
    """What moving time on did: events to publish (outputs first), and schedule records to store after.

    `deferred` says that it left an entry boundary's status pending (see `Core.finish_pending`).
    """

    events: list[Event] = field(default_factory=list)
    records: list[ScheduleRecord] = field(default_factory=list)
    deferred: bool = False

    @property
    def rows(self) -> Rows:
        """The records as one transaction's rows."""
        return Rows(tuple(self.records))

    def add(self, later: Outcome) -> None:
        """Append what `later` did (in place: a long catch-up stays linear)."""
        self.events += later.events
        self.records += later.records
        self.deferred = later.deferred


@dataclass(frozen=True)
class Change:
    """An accepted command's effect before it is applied: changed copies of schedules and controllers.

    `refusal` answers the command once applied: a failed enable is stored (SchdEnaErr), then refused.
    """

    schedules: tuple[Schedule, ...] = ()
    controllers: tuple[Controller, ...] = ()
    refusal: Rejected | None = None
    keys: Mapping[str, str | None] = field(default_factory=dict)  # intent keys, as `Rows.keys`

    @property
    def rows(self) -> Rows:
        """What to store before `Core.apply`."""
        return Rows(
            tuple(s.record() for s in self.schedules),
            tuple(c.record() for c in self.controllers),
            keys=self.keys,
        )

    @property
    def result(self) -> CommandResult:
        """The command's answer once the change is stored and applied."""
        return ACCEPTED if self.refusal is None else self.refusal


@dataclass(frozen=True)
class Started:
    """The start-up state to store, and the stored objects dropped because they did not fit (ref -> why)."""

    rows: Rows
    dropped: Mapping[str, str]
    notes: tuple[RestoreNote, ...] = ()


class Core:
    """The IEC 61850-90-10 scheduler of one SCL model, as a state machine driven by the time it is given."""

    def __init__(
        self,
        model: ModelSpec,
        *,
        policies: Mapping[str, SchedulePolicy] | None = None,
        rights: Rights = UNRESTRICTED,
    ) -> None:
        self._model = model
        policies = policies or {}
        self._policies = {spec.ref: policies.get(spec.ref, default_policy(spec)) for spec in model.schedules}
        self._mirror = Mirror(model)
        self._rules = Rules(
            model, self._policies, rights, self._mirror.schedule_attrs, self._mirror.controller_attrs
        )
        self._timeline: Timeline | None = None
        self._now: Timestamp = 0.0
        self._pending: Moved | None = None  # an entry boundary whose status is not published yet
        self._forecasts = ForecastCache(self._output_changes)
        self._keys: dict[str, str] = {}  # schedule -> the intent key placed in it (see `program_slots`)

    @property
    def model(self) -> ModelSpec:
        """The schedules, controllers and targets this engine runs."""
        return self._model

    @property
    def forecasts_computed(self) -> int:
        """How many forecasts were computed (the others were served from the cache)."""
        return self._forecasts.computed

    @property
    def started(self) -> bool:
        """Whether `start` ran (and `stop` did not since)."""
        return self._timeline is not None

    @property
    def now(self) -> Timestamp:
        """The latest instant processed: commands never act before it."""
        return self._now

    def next_instant(self) -> Timestamp | None:
        """The deadline: the next start, entry boundary or end of any schedule (None: nothing is due)."""
        return None if self._timeline is None else self._timeline.next_instant()

    # ---- life cycle -------------------------------------------------------------------------------------

    def start(self, stored: StoredState, now: Timestamp) -> Started:
        """Restore `stored` (or the SCL's state) at `now` and start the reserve schedules."""
        pinned = frozenset(ref for ref, policy in self._policies.items() if not policy.allows_control())
        restored = restore_timeline(self._model, stored, now, pinned)
        timeline = self._timeline = restored.timeline
        self._keys = {
            ref: key
            for ref, key in stored.keys.items()
            if ref in timeline.schedules and ref not in restored.dropped
        }
        self._forecasts.invalidate()
        self._now = now
        self._mirror.baseline(timeline, now)
        rows = Rows(
            tuple(s.record() for s in timeline.schedules.values()),
            tuple(c.record() for c in timeline.controllers.values()),
            (*restored.dropped, *(ref for ref in stored.keys if ref not in self._keys)),
        )
        return Started(rows, restored.dropped, restored.notes)

    def stop(self) -> None:
        """Forget the timeline and any pending status; later commands are refused."""
        self._timeline = None
        self._pending = None

    # ---- time -------------------------------------------------------------------------------------------

    def advance(self, until: Timestamp, *, defer_status: bool = False) -> Outcome:
        """Process every instant up to `until` in order, each at its nominal time.

        With `defer_status` the last instant's status stays pending (`finish_pending`).
        """
        timeline = self._started()
        outcome = Outcome()
        while (t := timeline.next_instant()) is not None and t <= until:
            # A pending status shows the state of its own instant: finish it before the next one.
            outcome.add(self.finish_pending())
            due = timeline.due(t)
            before = positions(due)
            for schedule in due:
                schedule.advance_to(t)
            self._now = t
            moved = Moved(t, due, before, timeline.affected(due))
            outcome.add(self._moved_by_time(moved, defer_status=defer_status))
        self._now = max(self._now, until)
        return outcome

    def reach(self, now: Timestamp) -> None:
        """Move the present to `now` when no instant lies before it (the caller knows the next one)."""
        self._now = max(self._now, now)

    def jump_to(self, now: Timestamp) -> Outcome:
        """Re-evaluate every schedule at `now` after a wall-clock step."""
        timeline = self._started()
        outcome = self.finish_pending()
        schedules = list(timeline.schedules.values())
        before = positions(schedules)
        for schedule in schedules:
            schedule.jump_to(now)
        self._forecasts.invalidate()
        self._now = now
        outcome.add(
            self._moved_by_time(
                Moved(now, schedules, before, timeline.affected(schedules)), defer_status=False
            )
        )
        return outcome

    def finish_pending(self) -> Outcome:
        """Publish a pending entry boundary's status and store the schedules it changed (consumed starts)."""
        moved, self._pending = self._pending, None
        if moved is None or self._timeline is None:
            return Outcome()
        events = self._mirror.status(self._timeline, moved)
        return Outcome(events, [s.record() for s in moved.changed()])

    def _moved_by_time(self, moved: Moved, *, defer_status: bool) -> Outcome:
        """The outputs of schedules that moved on by themselves, then (or pending) their status."""
        timeline = self._started()
        events = self._mirror.outputs(timeline, moved.t, moved.controllers)
        self._pending = moved
        if defer_status:
            return Outcome(events, deferred=True)
        outcome = Outcome(events)
        outcome.add(self.finish_pending())
        return outcome

    # ---- commands ---------------------------------------------------------------------------------------

    def write(self, ref: str, value: object, actor: Actor, now: Timestamp) -> Change:
        """Decide a write of one parameter DA (full reference); RejectionError when refused."""
        owner = owner_of(ref)
        timeline = self._started()
        if owner in self._mirror.schedule_attrs:
            return self._schedule_change(Write(ref, value), actor, now)
        if owner in self._mirror.controller_attrs:
            controller = timeline.controllers[owner]
            mutate = self._rules.controller_write(controller, ref, value, actor)
            changed = Controller(controller.spec, controller.record())
            mutate(changed)
            return Change(controllers=(changed,))
        raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"no schedule or controller {owner!r}")

    def operate(self, ref: str, ctl_val: bool, test: bool, actor: Actor, now: Timestamp) -> Change:
        """Decide an operate of `<FSCH>.EnaReq` or `.DsaReq`; RejectionError when refused."""
        return self._schedule_change(Operate(ref, ctl_val, test), actor, now)

    def program_slots(
        self,
        programs: Mapping[str, Program | None],
        keys: Mapping[str, str | None],
        actor: Actor,
        now: Timestamp,
    ) -> Change:
        """Decide programs of whole schedules (full refs; None disables one) and their intent keys.

        One change, validated as a whole; RejectionError when any is refused.
        """
        if len(programs) == 0:
            raise RejectionError(RejectReason.VALUE_INVALID, "no schedule to program")
        unknown = [ref for ref in [*programs, *keys] if ref not in self._mirror.schedule_attrs]
        if unknown:
            raise RejectionError(RejectReason.OBJECT_UNDEFINED, f"no schedule {unknown[0]!r}")
        timeline = self._started()
        mutations = [
            (timeline.schedules[ref], self._rules.program(timeline.schedules[ref], program, actor, now))
            for ref, program in programs.items()
        ]
        changed = []
        for schedule, mutate in mutations:
            copy = schedule.clone()
            mutate(copy)
            changed.append(copy)
        return Change(schedules=tuple(changed), keys=keys)

    def intent_keys(self) -> Mapping[str, str]:
        """The intent key each schedule holds (schedule -> key), as `program_slots` placed them."""
        return dict(self._keys)

    def undo_of(self, change: Change) -> Change:
        """The change that puts back what `change` replaces: apply it right after, nothing between.

        `apply` swaps objects in and never touches the ones it swaps out, so they are the state before.
        """
        timeline = self._started()
        return Change(
            schedules=tuple(timeline.schedules[s.ref] for s in change.schedules),
            controllers=tuple(timeline.controllers[c.ref] for c in change.controllers),
            keys={ref: self._keys.get(ref) for ref in change.keys},
        )

    def apply(self, change: Change, now: Timestamp) -> list[Event]:
        """Swap in a stored `Change`; return its events (outputs first)."""
        timeline = self._started()
        before = positions(timeline.schedules[s.ref] for s in change.schedules)
        controller_params = {c.ref: self._mirror.parameters(timeline, c.ref) for c in change.controllers}
        for schedule in change.schedules:
            timeline.schedules[schedule.ref] = schedule
        for controller in change.controllers:
            timeline.controllers[controller.ref] = controller
        for ref, key in change.keys.items():
            if key is None:
                self._keys.pop(ref, None)
            else:
                self._keys[ref] = key
        moved = Moved(now, change.schedules, before, timeline.affected(change.schedules, change.controllers))
        self._forecasts.invalidate(c.ref for c in moved.controllers)
        parameter_events = [
            event
            for ref, params in controller_params.items()
            for event in self._mirror.parameter_events(timeline, params, ref, now)
        ]
        events = self._mirror.outputs(timeline, now, moved.controllers)
        return events + self._mirror.status(timeline, moved, parameter_events)

    def check(self, steps: Sequence[Step], actor: Actor, now: Timestamp) -> list[CommandResult]:
        """What writes and operates would answer to `steps`, one after the other, changing nothing.

        Each step plays on a copy of its schedule that has the steps before it; the answers end with the
        first refusal.
        """
        timeline = self._started()
        copies: dict[str, Schedule] = {}
        results: list[CommandResult] = []
        for step in steps:
            full = self._full(step.ref)
            try:
                owner = self._rules.schedule_owner(full)
                if owner not in copies:
                    copies[owner] = timeline.schedules[owner].clone()
                self._play(replace(step, ref=full), copies[owner], actor, now)
            except RejectionError as rejection:
                results.append(rejection.rejected)
                break
            results.append(ACCEPTED)
        return results

    def _schedule_change(self, step: Step, actor: Actor, now: Timestamp) -> Change:
        schedule = self._started().schedules[self._rules.schedule_owner(step.ref)]
        mutate = self._rules.step(step, schedule, actor, now)
        if mutate is None:
            return Change()
        changed = schedule.clone()
        mutate(changed)
        refusal = self._rules.refusal(step, changed)
        return Change(schedules=(changed,), refusal=None if refusal is None else refusal.rejected)

    def _play(self, step: Step, schedule: Schedule, actor: Actor, now: Timestamp) -> None:
        """Carry out `step` on `schedule` itself (a check's copy); RejectionError when refused."""
        mutate = self._rules.step(step, schedule, actor, now)
        if mutate is not None:
            mutate(schedule)
        refusal = self._rules.refusal(step, schedule)
        if refusal is not None:
            raise refusal

    # ---- reads ------------------------------------------------------------------------------------------

    def read(self, ref: str) -> AttributeValue | Rejected:
        """The current value of one DA (both reference forms accepted)."""
        return self._mirror.read(self._timeline, self._full(ref), self._now)

    def snapshot(self) -> dict[str, AttributeValue]:
        """Every attribute the scheduler serves (parameters and status); empty before start."""
        return {} if self._timeline is None else self._mirror.snapshot(self._timeline, self._now)

    def output(self, controller_ref: str) -> ControllerOutput | None:
        """The current output of a controller (None for an unknown controller or before start)."""
        return self._mirror.output(self._full(controller_ref)) if self._timeline is not None else None

    def forecast(
        self, controller_ref: str, t0: Timestamp, t1: Timestamp, now: Timestamp
    ) -> list[ForecastPoint]:
        """The output of a controller over [t0, t1] if nothing is written after `now` (equal values merge).

        Served from the forecast cache; the caller has advanced the core to `now`.
        """
        full = self._full(controller_ref)
        timeline = self._timeline
        if timeline is None or full not in timeline.controllers:
            return []
        return self._forecasts.get(full, t0, t1, now)

    def _output_changes(self, controller_ref: str, now: Timestamp, until: Timestamp) -> list[ForecastPoint]:
        """The cache's computation: `output_changes` of the timeline as of `now`."""
        return output_changes(self._started(), controller_ref, now, until)

    def _full(self, ref: str) -> str:
        return full_ref(ref, self._model.ied_name)

    def _started(self) -> Timeline:
        if self._timeline is None:
            raise RejectionError(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")
        return self._timeline
