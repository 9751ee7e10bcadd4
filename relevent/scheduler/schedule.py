"""One FSCH schedule: its parameters, enable validation and the NOT_READY / READY / RUNNING state machine.

Pure and synchronous: every method takes the instant it acts at; the engine drives it with nominal
instants, so entry boundaries are exact whatever the timer jitter. Rules (spec sections 3 and 4):

- The run in progress is the one begun by the latest start-time occurrence; a start that occurs during a
  run takes over at once (entry 1). A run keeps the `NumEntr` and `SchdIntv` it began with; values are read
  at each entry boundary, so a value written while RUNNING takes effect at the next boundary.
- A run stops at its end or when a later start takes over; with `SchdReuse` false the start time that
  began it is consumed (`setTm` reads back 0) unless it was rewritten meanwhile.
- With no run in progress and no start ahead the schedule falls back to NOT_READY.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from relevent.scheduler.enums import SclEnum
from relevent.scheduler.periodic import SHORTEST_PERIOD, Period, calendar_problem
from relevent.scheduler.spec import ScheduleSpec
from relevent.scheduler.starts import StartTime
from relevent.scheduler.values import ScheduleValue, Timestamp, is_valid_value


class SchdSt(SclEnum):
    """`SchdSt.stVal` (ScheduleStateKind). START_TIME_REQUIRED is never entered (spec section 4)."""

    NOT_READY = 1, "Not ready"
    START_TIME_REQUIRED = 2, "Start Time required"
    READY = 3, "Ready"
    RUNNING = 4, "Running"


class EnaErr(SclEnum):
    """`SchdEnaErr.stVal` (ScheduleEnablingErrorKind)."""

    NONE = 1, "None"
    NUM_ENTR = 2, "Missing valid NumEntr"
    SCHD_INTV = 3, "Missing valid SchdIntv"
    VALUES = 4, "Missing valid schedule values"
    INCONSISTENT_CDC = 5, "Inconsistent values CDC"
    STR_TM = 6, "Missing valid StrTm"
    OTHER = 99, "Other"

    @property
    def text(self) -> str:
        """The kind in words (spec section 3), for refusals that people read."""
        return _ENA_ERR_TEXT[self]


_ENA_ERR_TEXT = {
    EnaErr.NONE: "none",
    EnaErr.NUM_ENTR: "missing valid NumEntr (it must be 1 up to the number of value slots)",
    EnaErr.SCHD_INTV: "missing valid SchdIntv (it must be positive)",
    EnaErr.VALUES: "missing valid schedule values (one of the first NumEntr values is unset or not finite)",
    EnaErr.INCONSISTENT_CDC: "inconsistent values CDC",
    EnaErr.STR_TM: "missing valid StrTm (no start time whose run is not over, or an unsupported calendar)",
    EnaErr.OTHER: "other",
}


@dataclass(frozen=True)
class ScheduleParams:
    """The writable parameters (FC SP) of a schedule."""

    values: tuple[ScheduleValue, ...]
    num_entr: int
    schd_intv: int
    schd_prio: int
    starts: tuple[StartTime, ...]
    reuse: bool

    @classmethod
    def from_spec(cls, spec: ScheduleSpec) -> ScheduleParams:
        """The initial parameters from the SCL."""
        return cls(
            values=spec.values,
            num_entr=spec.num_entr,
            schd_intv=spec.schd_intv,
            schd_prio=spec.schd_prio,
            starts=tuple(start.initial for start in spec.start_times),
            reuse=spec.reuse,
        )

    @cached_property
    def set_starts(self) -> tuple[tuple[int, StartTime], ...]:
        """(slot, start time) of the start times that take part in scheduling (often 1 of 10 or more).

        A schedule looks for its next start at every boundary: at 3000 schedules walking every slot was
        the largest part of a boundary's work.
        """
        return tuple((slot, start) for slot, start in enumerate(self.starts) if start.is_set)

    def with_start(self, slot: int, start: StartTime) -> ScheduleParams:
        """Return these parameters with start time `slot` replaced."""
        starts = list(self.starts)
        starts[slot] = start
        params = ScheduleParams(  # not dataclasses.replace: 3x its speed, and every run's end calls this
            values=self.values, num_entr=self.num_entr, schd_intv=self.schd_intv, schd_prio=self.schd_prio,
            starts=tuple(starts), reuse=self.reuse,
        )
        if "set_starts" in self.__dict__:  # computed: carry it over rather than scan every slot again
            kept = tuple(item for item in self.set_starts if item[0] != slot)
            params.__dict__["set_starts"] = tuple(sorted((*kept, (slot, start)))) if start.is_set else kept
        return params


def parameter_error(params: ScheduleParams, intv_unit: float, entries_in_use: int = 0) -> EnaErr:
    """Validate everything but the presence of a start time, in the order of spec section 3.

    `entries_in_use` widens the value check to the entries a run in progress still reads.
    """
    if not 1 <= params.num_entr <= len(params.values):
        return EnaErr.NUM_ENTR
    if not all(is_valid_value(v) for v in params.values[: max(params.num_entr, entries_in_use)]):
        return EnaErr.VALUES
    if params.schd_intv <= 0:
        return EnaErr.SCHD_INTV
    duration = params.num_entr * params.schd_intv * intv_unit
    for start in params.starts:
        if (
            start.is_set
            and start.cal is not None
            and (
                calendar_problem(start.cal) is not None
                or duration > SHORTEST_PERIOD[Period(start.cal.occ_per)]
            )
        ):
            return EnaErr.STR_TM
    return EnaErr.NONE


def enable_error(params: ScheduleParams, intv_unit: float, now: Timestamp) -> EnaErr:
    """Validate an enable request at `now` (spec section 3, codes 2, 4, 3, 6)."""
    error = parameter_error(params, intv_unit)
    if error is not EnaErr.NONE:
        return error
    duration = params.num_entr * params.schd_intv * intv_unit
    if any(start.is_set and (start.periodic or start.set_tm + duration > now) for start in params.starts):
        return EnaErr.NONE
    return EnaErr.STR_TM


@dataclass(frozen=True)
class Run:
    """A run in progress: its nominal start, the start time that began it, and its latched shape."""

    start: Timestamp
    slot: int
    origin: StartTime
    num_entr: int
    intv: float

    @property
    def end(self) -> Timestamp:
        """The nominal end of the last entry."""
        return self.boundary(self.num_entr)

    def boundary(self, entry: int) -> Timestamp:
        """The nominal start of `entry` (0-based); computed, never accumulated, so there is no drift."""
        return self.start + entry * self.intv

    def entry_at(self, t: Timestamp) -> int:
        """Return the 0-based entry in force at `t`, exact at boundaries despite float rounding."""
        entry = min(max(math.floor((t - self.start) / self.intv), 0), self.num_entr - 1)
        while entry + 1 < self.num_entr and self.boundary(entry + 1) <= t:
            entry += 1
        while entry > 0 and self.boundary(entry) > t:
            entry -= 1
        return entry


@dataclass(frozen=True)
class ScheduleStatus:
    """The status attributes (FC ST/MX) of a schedule; None marks an invalid quality."""

    state: SchdSt
    entry: int
    value: ScheduleValue | None
    value_time: Timestamp | None
    act_start: Timestamp | None
    next_start: Timestamp | None
    ena_err: EnaErr


@dataclass(frozen=True)
class ScheduleRecord:
    """Everything needed to rebuild a schedule after a restart (also used to clone it)."""

    ref: str
    kind: str
    params: ScheduleParams
    enabled: bool
    ena_err: EnaErr
    run: Run | None
    entry: int
    value: ScheduleValue | None
    at: Timestamp


class Schedule:
    """The state machine of one FSCH."""

    def __init__(self, spec: ScheduleSpec, params: ScheduleParams | None = None) -> None:
        self.spec = spec
        self.params = params or ScheduleParams.from_spec(spec)
        self.enabled = False
        self.ena_err = EnaErr.NONE
        self.run: Run | None = None
        self.entry = 0
        self.value: ScheduleValue | None = None
        self.at: Timestamp = 0.0
        self._next_start: tuple[Timestamp, int] | None = None
        self._next_instant: Timestamp | None = None

    @property
    def ref(self) -> str:
        """The full object reference of the FSCH."""
        return self.spec.ref

    @property
    def priority(self) -> int:
        """`SchdPrio.setVal`: live, a write takes effect at once."""
        return self.params.schd_prio

    @property
    def state(self) -> SchdSt:
        """`SchdSt.stVal`."""
        if self.run is not None:
            return SchdSt.RUNNING
        return SchdSt.READY if self.enabled else SchdSt.NOT_READY

    @property
    def next_instant(self) -> Timestamp | None:
        """The next start, entry boundary or end at which this schedule changes, or None."""
        return self._next_instant

    def status(self) -> ScheduleStatus:
        """Return the status attributes as of `self.at`."""
        run = self.run
        return ScheduleStatus(
            state=self.state,
            entry=self.entry + 1 if run else 0,
            value=self.value if run else None,
            value_time=run.boundary(self.entry) if run else None,
            act_start=run.start if run else None,
            next_start=self._next_start[0] if self._next_start else None,
            ena_err=self.ena_err,
        )

    def write_error(self, params: ScheduleParams) -> EnaErr:
        """Return why `params` would break this schedule while it is enabled (NONE when it is not)."""
        if not self.enabled:
            return EnaErr.NONE
        return parameter_error(params, self.spec.intv_unit, self.run.num_entr if self.run else 0)

    def enable(self, now: Timestamp) -> EnaErr:
        """Handle `EnaReq` true: validate, then READY, or RUNNING at once when a run is in progress."""
        self.ena_err = enable_error(self.params, self.spec.intv_unit, now)
        if self.ena_err is not EnaErr.NONE:
            self.disable(now)
        elif not self.enabled:
            self.enabled = True
            self.resync(now)
        return self.ena_err

    def disable(self, now: Timestamp) -> None:
        """Handle `DsaReq` true: NOT_READY at once; the aborted run consumes nothing."""
        self.enabled = False
        self.run = None
        self.value = None
        self.at = max(self.at, now)
        self._refresh()

    def set_params(self, params: ScheduleParams, now: Timestamp) -> None:
        """Apply accepted parameters (checked with `write_error`); start times and priority act at once."""
        self.params = params
        self.resync(now)

    def resync(self, now: Timestamp) -> None:
        """Re-derive the run at `now` from the parameters: after enable, writes and backward clock steps.

        A run in progress is joined at the right entry (late join).
        """
        self.at = now
        if self.enabled:
            run = self.run
            if run is not None and (run.end <= now or run.start > now):
                self._stop(consume=run.end <= now)
            latest = self._latest_start(now)
            if latest is not None and (self.run is None or latest[0] > self.run.start):
                self._begin(*latest)
            self._latch(now)
        self._refresh()

    def advance_to(self, t: Timestamp) -> None:
        """Apply every end, start and entry boundary up to and including `t`, in order."""
        # The cached next start: an instant that only moves the run to its next entry (the usual one)
        # breaks out at once, without a search of the start times.
        run, upcoming = self.run, self._next_start
        while self.enabled and (run is not None or upcoming is not None):  # else it retires (below)
            event = min(run.end if run else math.inf, upcoming[0] if upcoming else math.inf)
            if event > t:
                break
            before, params = self.at, self.params
            self.at = event
            if run is not None and run.end <= event:
                self._stop(consume=True)
            if self.params is not params:  # the run that just ended consumed a start time: look again
                upcoming = self._find_next_start(before)
            if upcoming is not None and upcoming[0] == event:
                self._begin(*upcoming)
            run, upcoming = self.run, self._find_next_start(self.at)
        self.at = max(self.at, t)
        self._latch(self.at)
        self._take_next_start(upcoming)  # also the first start after `t`: it lies beyond it

    def jump_to(self, now: Timestamp) -> None:
        """Bring the schedule to `now` without stepping through each instant: after a restart or a clock step.

        Forward, runs that ended meanwhile are ended (and consumed); backward, the run is re-derived.
        """
        if now >= self.at:
            self.advance_to(now)
        else:
            self.resync(now)

    def record(self) -> ScheduleRecord:
        """Return the persistent state."""
        return ScheduleRecord(
            ref=self.ref,
            kind=self.spec.kind.value,
            params=self.params,
            enabled=self.enabled,
            ena_err=self.ena_err,
            run=self.run,
            entry=self.entry,
            value=self.value,
            at=self.at,
        )

    @classmethod
    def from_record(cls, spec: ScheduleSpec, record: ScheduleRecord) -> Schedule:
        """Rebuild a schedule as it was at `record.at` (the record must fit `spec`)."""
        schedule = cls(spec, record.params)
        schedule.enabled = record.enabled
        schedule.ena_err = record.ena_err
        schedule.run = record.run
        schedule.entry = record.entry
        schedule.value = record.value
        schedule.at = record.at
        schedule._refresh()
        return schedule

    def clone(self) -> Schedule:
        """Return an independent copy (for forecasts and rollbacks)."""
        return Schedule.from_record(self.spec, self.record())

    def _intv_seconds(self) -> float:
        return self.params.schd_intv * self.spec.intv_unit

    def _find_next_start(self, after: Timestamp) -> tuple[Timestamp, int] | None:
        """Return (time, slot) of the first start strictly after `after`; ties go to the lower slot."""
        starts = self.params.set_starts
        found = [(t, slot) for slot, start in starts if (t := start.next_after(after)) is not None]
        return min(found, default=None)

    def _latest_start(self, now: Timestamp) -> tuple[Timestamp, int] | None:
        """Return (time, slot) of the latest start at or before `now` whose run is not over, or None."""
        duration = self.params.num_entr * self._intv_seconds()
        found = [
            (t, -slot)
            for slot, start in self.params.set_starts
            if (t := start.latest_at_or_before(now)) is not None and t + duration > now
        ]
        if not found:
            return None
        t, neg_slot = max(found)
        return t, -neg_slot

    def _begin(self, start: Timestamp, slot: int) -> None:
        if self.run is not None:
            self._stop(consume=True)
        origin = self.params.starts[slot]
        self.run = Run(start, slot, origin, self.params.num_entr, self._intv_seconds())
        self.value = None  # forces _latch to read the first value of the new run

    def _stop(self, *, consume: bool) -> None:
        run = self.run
        if run is None:
            return
        if consume and not self.params.reuse and self.params.starts[run.slot] == run.origin:
            self.params = self.params.with_start(run.slot, run.origin.cleared())
        self.run = None
        self.value = None

    def _latch(self, t: Timestamp) -> None:
        if self.run is None:
            return
        entry = self.run.entry_at(t)
        if self.value is None or entry != self.entry:
            self.entry = entry
            self.value = self.params.values[entry]

    def _refresh(self) -> None:
        """Recompute the cached next start and next instant after any change."""
        self._take_next_start(self._find_next_start(self.at) if self.enabled else None)

    def _take_next_start(self, upcoming: tuple[Timestamp, int] | None) -> None:
        """Cache `upcoming`, the first start after `self.at`; with no run and none to come, retire."""
        if self.run is None and upcoming is None:
            self.enabled = False
        self._next_start = upcoming if self.enabled else None
        self._set_next_instant()

    def _set_next_instant(self) -> None:
        candidates = [self._next_start[0]] if self._next_start else []
        if self.run is not None:
            candidates.append(self.run.boundary(self.entry + 1))
        self._next_instant = min(candidates, default=None)
