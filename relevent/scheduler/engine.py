"""The scheduler's runtime: the pure `Core` on the running loop, with its timers, store and clock watcher.

Adapters talk to `Engine`. It reads the wall clock, hands the time to the core, stores what the core
returns and only then publishes it. A command's rows are committed in one transaction before it is answered;
when the store fails the change is never applied and the command is refused. `program_slots_soon` (the
intent API's fast path) applies first and stores on a writer thread meanwhile, so the devices hear of it
while the disk syncs; its answer waits for the store, and a failed store puts back what was there.
Every other step that changes the core first waits for such a pending store ("settles" it), so no change
ever builds on one that may be undone; reads never wait.

Timing: one `loop.call_at` for the earliest instant any schedule changes (start, entry boundary, end),
converting wall time to loop time when arming. The callback processes the instant it was armed for (its
*nominal* time), never "now", so a timer firing a little early or late changes no boundary; a late timer
catches up instant by instant. A wall-clock step (detected at a timer, or reported through `clock_stepped`)
jumps every schedule to the new time and re-arms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from relevent.refs import full_ref, owner_of
from relevent.scheduler.bus import EventBus
from relevent.scheduler.clock import Clock
from relevent.scheduler.commands import (
    ACCEPTED,
    Actor,
    CommandResult,
    Program,
    Rejected,
    RejectionError,
    RejectReason,
    Step,
)
from relevent.scheduler.controller import ControllerOutput
from relevent.scheduler.core import Change, Core, Outcome, Rows
from relevent.scheduler.events import (
    AttributeData,
    AttributeValue,
    CommandHandled,
    Event,
    Subscriber,
)
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.policy import UNRESTRICTED, Rights, SchedulePolicy
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.store import Store, StoreError
from relevent.scheduler.values import Timestamp
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

Settled = Callable[[CommandResult], None]
STORE_FAILED = "the state store failed"


@dataclass(frozen=True)
class _Pending:
    """A change applied before its rows were stored: what puts it back, and who waits for the answer."""

    stored: Future[None]
    undo: Change
    now: Timestamp
    result: CommandResult
    settled: Settled


class Engine:
    """The IEC 61850-90-10 scheduler of one SCL model, running.

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
        self._core = Core(model, policies=policies, rights=rights)
        self._clock = clock
        self._store = store
        self._bus = EventBus()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for: Timestamp | None = None
        self._status_timer: asyncio.TimerHandle | None = None  # finishes a deferred boundary
        self._writer: ThreadPoolExecutor | None = None  # stores `program_slots_soon`'s rows
        self._pending: _Pending | None = None

    @property
    def model(self) -> ModelSpec:
        """The schedules, controllers and targets this engine runs."""
        return self._core.model

    @property
    def forecasts_computed(self) -> int:
        """How many forecasts were computed (the others were served from the cache)."""
        return self._core.forecasts_computed

    # ---- life cycle -------------------------------------------------------------------------------------

    def start(self) -> Mapping[str, str]:
        """Restore the stored state (or the SCL's), start the reserve schedules and arm the timer.

        Return the stored objects dropped because they did not fit (ref -> why; they are deleted).
        Raises `StoreError` when the store cannot be read or written.
        """
        self._loop = asyncio.get_running_loop()
        started = self._core.start(self._store.load(), self._clock.now())
        for note in started.notes:
            _log.warning(note.event, ref=note.ref, **note.detail)
        self._commit(started.rows)
        self._rearm()
        return started.dropped

    def stop(self) -> None:
        """Store what is pending, cancel the timer; later commands are answered temporarily-unavailable."""
        self._settle()
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        self._disarm()
        self._finish_boundary()
        self._core.stop()
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
        if not self._core.started:
            return
        self._settle()
        now = self._clock.now()
        _log.info("wall clock stepped", by=now - self._core.now)
        self._disarm()
        self._finish_boundary()
        self._publish(self._core.jump_to(now))
        self._rearm()

    async def watch_clock(self, period_s: float = 1.0, tolerance_s: float = 0.25) -> None:
        """Call `clock_stepped` whenever the wall clock moves against the loop's monotonic clock (a task).

        NTP steps (or an operator's `date -s`) move wall time but not loop time; timers armed in loop time
        would fire at the wrong wall instant until re-armed. Slews of a few ms per second stay below
        `tolerance_s` and are absorbed by the nominal-time timers.
        """
        loop = asyncio.get_running_loop()
        offset = self._clock.now() - loop.time()
        while True:
            await asyncio.sleep(period_s)
            current = self._clock.now() - loop.time()
            if abs(current - offset) > tolerance_s:
                _log.warning("wall clock step detected", by_s=round(current - offset, 3))
                self.clock_stepped()
            offset = current

    # ---- commands ---------------------------------------------------------------------------------------

    def write(self, ref: str, value: object, actor: Actor) -> CommandResult:
        """Write one parameter DA (`<FSCH>.ValASG001.setMag.f`, `.StrTm01.setTm`, `<FSCC>.Schd03.setSrcRef`).

        Values: float (ASG), bool (SPG, SchdReuse), int (ING, ENG, NumEntr, SchdIntv, SchdPrio, setCal
        members), float epoch seconds (setTm), `CalendarTime` (whole setCal), str (references).
        """
        return self._command(
            "write", [ref], actor, lambda now, full: self._core.write(full[0], value, actor, now), asked=value
        )

    def operate(self, ref: str, ctl_val: bool, test: bool, actor: Actor) -> CommandResult:
        """Operate `<FSCH>.EnaReq` or `<FSCH>.DsaReq` (direct control with normal security)."""
        return self._command(
            "operate", [ref], actor, lambda now, full: self._core.operate(full[0], ctl_val, test, actor, now)
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
        return self._command("program", list(programs), actor, self._programming(programs, actor, keys))

    def program_slots_soon(
        self,
        programs: Mapping[str, Program | None],
        actor: Actor,
        keys: Mapping[str, str | None],
        settled: Settled,
    ) -> None:
        """`program_slots`, applied and published before its rows are stored; `settled` gets the answer.

        The rows are committed on a writer thread while the loop goes on (the devices' commands leave
        meanwhile); `settled` is called on the loop once they are durable, or, when the store fails, once
        the change has been put back (its outputs and states published again) with the refusal.
        """
        decide = self._programming(programs, actor, keys)
        self._command("program", list(programs), actor, decide, settled=settled)

    def _programming(
        self, programs: Mapping[str, Program | None], actor: Actor, keys: Mapping[str, str | None] | None
    ) -> Callable[[Timestamp, list[str]], Change]:
        """The decision of a `program_slots` (the full refs come in the order of `programs`)."""
        full_keys = {full_ref(ref, self.model.ied_name): key for ref, key in (keys or {}).items()}
        return lambda now, full: self._core.program_slots(
            dict(zip(full, programs.values(), strict=True)), full_keys, actor, now
        )

    def check_program(self, programs: Mapping[str, Program | None], actor: Actor) -> CommandResult:
        """What `program_slots` would answer to `programs`, changing nothing (a test intent's verdict).

        The same rules decide, on the present state; nothing is persisted, published or audited.
        """
        if not self._core.started:
            return Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")
        now = self._command_time()
        self._catch_up(now)  # as `check`: decide on the present
        full = {full_ref(ref, self.model.ied_name): program for ref, program in programs.items()}
        try:
            return self._core.program_slots(full, {}, actor, now).result
        except RejectionError as rejection:
            return rejection.rejected

    def intent_keys(self) -> Mapping[str, str]:
        """The intent key each schedule holds (schedule -> key), as `program_slots` stored them."""
        return self._core.intent_keys()

    def check(self, steps: Sequence[Step], actor: Actor) -> list[CommandResult]:
        """What `write` and `operate` would answer to `steps`, one after the other, changing nothing.

        The steps go through the very rules of those commands, on copies of the schedules they name, each
        step seeing the ones before it. The answers end with the first refusal. Nothing is persisted,
        published or audited. Only schedule parameters and `EnaReq`/`DsaReq` can be checked.
        """
        if not self._core.started:
            return [Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")]
        now = self._command_time()
        self._catch_up(now)  # as `forecast`: the copies start from the present
        return self._core.check(steps, actor, now)

    def read(self, ref: str) -> AttributeValue | Rejected:
        """Return the current value of one DA (both reference forms accepted)."""
        self._finish_boundary()  # a read sees the status of the last instant, deferred or not
        return self._core.read(ref)

    def snapshot(self) -> dict[str, AttributeValue]:
        """Every attribute the scheduler serves (parameters and status), for an adapter's start-up."""
        self._finish_boundary()
        return self._core.snapshot()

    def output(self, controller_ref: str) -> ControllerOutput | None:
        """The current output of a controller (None for an unknown controller or before start)."""
        return self._core.output(controller_ref)

    def forecast(self, controller_ref: str, t0: Timestamp, t1: Timestamp) -> list[ForecastPoint]:
        """The output of a controller over [t0, t1] if nothing is written meanwhile (equal values merged).

        Served from a per-controller cache (`ForecastCache`): a command drops the forecasts of the
        controllers it changes, a clock step all of them.
        """
        if not self._core.started:
            return []
        now = self._command_time()
        self._catch_up(now)
        return self._core.forecast(controller_ref, t0, t1, now)

    # ---- command handling -------------------------------------------------------------------------------

    def _command(  # noqa: PLR0913 - a command's parts; `settled` chooses the apply-first path
        self,
        kind: str,
        refs: Sequence[str],
        actor: Actor,
        decide: Callable[[Timestamp, list[str]], Change],
        asked: object = None,
        *,
        settled: Settled | None = None,
    ) -> CommandResult:
        """Decide, store, apply and publish one command; emit a `CommandHandled` per ref (the audit).

        `asked` is a write's value, audited when refused. With `settled` the change is applied before its
        rows are stored (`program_slots_soon`): the answer returned is provisional, `settled` gets the final.
        """
        self._settle()
        fulls = [full_ref(ref, self.model.ied_name) for ref in refs]
        audited = [_audited(kind, full) for full in fulls]
        olds = [self._value_of(ref) for ref in audited]
        now = self._clock.now()

        def handled(result: CommandResult) -> None:
            for full, ref, old in zip(fulls, audited, olds, strict=True):
                if result is ACCEPTED:
                    new: object = self._value_of(ref)
                else:  # the audit shows what was refused; an operate asks for no value of SchdSt
                    new = asked if kind == "write" else old
                self._bus.emit(CommandHandled(kind, full, actor, old, new, result, now))
            if settled is not None:
                settled(result)

        result: CommandResult
        if not self._core.started:
            result = Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")
        else:
            now = self._command_time()
            self._catch_up(now, defer_status=False)
            try:
                change = decide(now, fulls)
                if settled is not None and change.rows:
                    self._apply_then_store(change, now, handled)
                    self._rearm()
                    return change.result
                result = self._store_and_apply(change, now)
            except RejectionError as rejection:
                result = rejection.rejected
            self._rearm()
        handled(result)
        return result

    def _store_and_apply(self, change: Change, now: Timestamp) -> CommandResult:
        """Commit the change's rows, then apply and publish it; a store failure leaves the core unchanged."""
        rows = change.rows
        if rows:
            try:
                self._commit(rows)
            except StoreError as exc:
                _log.exception("store failed, change not applied")
                raise RejectionError(RejectReason.TEMPORARILY_UNAVAILABLE, STORE_FAILED) from exc
        self._emit(self._core.apply(change, now))
        return change.result

    def _apply_then_store(self, change: Change, now: Timestamp, settled: Settled) -> None:
        """Apply and publish the change, then commit its rows on the writer thread (see `_settle`)."""
        undo = self._core.undo_of(change)
        self._emit(self._core.apply(change, now))
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relevent-store")
        stored = self._writer.submit(self._commit, change.rows)
        pending = self._pending = _Pending(stored, undo, now, change.result, settled)
        loop = self._loop
        assert loop is not None  # started
        stored.add_done_callback(lambda _: loop.call_soon_threadsafe(self._settle_if, pending))

    def _settle_if(self, pending: _Pending) -> None:
        if self._pending is pending:
            self._settle()

    def _settle(self) -> None:
        """Wait for the pending store (if any); answer it, or put its change back when the store failed.

        Until none is pending: an answer's callback may itself have placed another.
        """
        while (pending := self._pending) is not None:
            self._pending = None
            result = pending.result
            try:
                pending.stored.result()
            except Exception:  # noqa: BLE001 - whatever failed on the writer thread, the rows are not stored
                _log.exception("store failed, change undone")
                self._emit(self._core.apply(pending.undo, pending.now))
                self._rearm()
                result = Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, STORE_FAILED)
            try:
                pending.settled(result)
            except Exception:  # noqa: BLE001 - an adapter's failure must not stop the step that settled it
                _log.exception("a settled command's callback failed")

    def _value_of(self, ref: str) -> AttributeData | None:
        current = self.read(ref)
        return current.value if isinstance(current, AttributeValue) else None

    def _command_time(self) -> Timestamp:
        # A timer may fire a little early; commands never act before an instant already processed.
        return max(self._clock.now(), self._core.now)

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
        self._advance(max(nominal, now), defer_status=True)
        self._rearm()

    def _catch_up(self, now: Timestamp, *, defer_status: bool = True) -> None:
        """An instant due and its timer not yet run: do the timer's work now, the devices' outputs first.

        The armed instant is the core's next one (re-armed after every change), so a caller that finds
        nothing due costs no scan of every schedule: forecasts and commands come per controller.
        """
        if self._armed_for is not None and now >= self._armed_for:
            self._advance(now, defer_status=defer_status)
            self._rearm()
        else:
            self._core.reach(now)

    def _advance(self, until: Timestamp, *, defer_status: bool = False) -> None:
        """Let the core process every instant up to `until`; publish and store what it did."""
        self._settle()
        outcome = self._core.advance(until, defer_status=defer_status)
        self._publish(outcome)
        if outcome.deferred:
            self._cancel_status_timer()
            loop = self._loop
            assert loop is not None
            self._status_timer = loop.call_later(STATUS_DELAY_S, self._finish_boundary)

    def _finish_boundary(self) -> None:
        """Publish a deferred entry boundary's status now: before anything moves the schedules on again.

        Never waits for a pending store: a boundary and a placement are never pending together (a command
        finishes the boundary before it decides, `_advance` settles the placement before it moves on).
        """
        self._cancel_status_timer()
        self._publish(self._core.finish_pending())

    def _cancel_status_timer(self) -> None:
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None

    def _rearm(self) -> None:
        if not self._core.started:
            return
        nominal = self._core.next_instant()
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

    # ---- output -----------------------------------------------------------------------------------------

    def _publish(self, outcome: Outcome) -> None:
        """Emit what time did (outputs first: latency counts), then store it; a store failure only logs."""
        self._emit(outcome.events)
        if outcome.records:
            try:
                self._commit(outcome.rows)
            except StoreError:
                _log.exception("store failed, consumed start times not persisted")

    def _commit(self, rows: Rows) -> None:
        self._store.commit(rows.schedules, rows.controllers, rows.dropped, rows.keys)

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            self._bus.emit(event)


def _audited(kind: str, ref: str) -> str:
    """What a command is audited by: an operate or a program by its schedule's state, a write by the DA."""
    if kind == "operate":
        return f"{owner_of(ref)}.SchdSt.stVal"
    return f"{ref}.SchdSt.stVal" if kind == "program" else ref
