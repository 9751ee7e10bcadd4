"""The request state machine per direction, and the firm-capacity fallback, as intents of actor `hedera`.

An EMS request is checked, answered `received`, and handled in its own task (the MQTT handler never waits
on HTTP): the period is cleared at HEDERA, the schedule posted, HEDERA's decision awaited by its
directives. An accepted grant becomes an intent (key `<direction>/<schedule id>`, the band's bottom
priority) and is re-read by its directives until it is Closed; a revision is placed at once, anything but
Accepted ends it. When a grant can no longer be trusted (HEDERA out of reach past its window, the grant
ended abnormally, the EMS lost, the gateway stopping) the direction's firm capacity is placed as an intent
held until changed at the band's top (key `<direction>/firm`), and cancelled again once a read confirms a
grant. Every step is replied to the EMS, persisted, audited and counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from relevent.obs.audit import actor_entry
from relevent.obs.audit_store import AuditEntry
from relevent.scheduler.intents import Intents
from relevent.scheduler.verdicts import (
    NOW,
    UNTIL_CHANGED,
    Actor,
    Intent,
    IntentFunction,
    Placed,
    Refused,
    Verdict,
)
from relevent.wan.hedera.adopt import PostAttempt, PostFinder, PostUnresolvedError
from relevent.wan.hedera.client import (
    HederaAuthError,
    HederaClient,
    HederaError,
    HederaRefusedError,
    PostUncertainError,
)
from relevent.wan.hedera.codec import (
    Directive,
    GrantedLimits,
    HederaProtocolError,
    ScheduleAnswer,
    ScheduleState,
    schedule_answer,
    schedule_reference,
    schedule_request,
)
from relevent.wan.hedera.codec import directives as read_directives
from relevent.wan.hedera.config import HederaDirectionSection, HederaSection
from relevent.wan.hedera.ems import EmsInputError, EmsRequest, parse_request, reply, request_problem
from relevent.wan.hedera.metrics import HederaMetrics
from relevent.wan.hedera.store import POSTING, HederaStore, StoredSchedule

log = structlog.get_logger(__name__)

PROTOCOL = "hedera"
FIRM = "firm"  # the key suffix of a direction's firm-capacity intent
EMS_LOST = "EMS lost"  # a fallback only a new request of the EMS lifts
LISTED = ("Accepted", "Pending")
OUTCOMES = {ScheduleState.DECLINED: "declined", ScheduleState.CANCELLED: "cancelled"}  # else "failed"
Publish = Callable[[str, dict[str, Any], bool, bytes | None], None]  # topic, payload, retained, correlation


@dataclass(frozen=True)
class Target:
    """A direction resolved against the model: its controller, units and the values its slots hold."""

    name: str  # IMPORT or EXPORT
    section: HederaDirectionSection
    controller: str
    watts_per_unit: float
    capacity: int


@dataclass
class _Lane:
    """One direction's live state."""

    target: Target
    request: EmsRequest | None = None
    request_task: asyncio.Task[None] | None = None
    posted: str | None = None  # the schedule id of the request awaiting its decision
    orphan: str | None = None  # a superseded request's schedule, to delete
    grants: dict[str, StoredSchedule] = field(default_factory=dict)
    watchers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    granted: dict[str, GrantedLimits] = field(default_factory=dict)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)  # next read: from, until
    fallback: str | None = None
    release: asyncio.Task[None] | None = None


class HederaLifecycle:
    """Requests, grants and fallbacks of every configured direction."""

    def __init__(  # noqa: PLR0913, PLR0917 - the adapter's collaborators, each needed
        self,
        section: HederaSection,
        targets: Mapping[str, Target],
        intents: Intents,
        band: tuple[int, int],
        client: HederaClient,
        store: HederaStore,
        *,
        clock: Callable[[], float],
        publish: Publish,
        state_topic: str,
        metrics: HederaMetrics,
        audit: Callable[[AuditEntry], None] | None = None,
    ) -> None:
        self._section = section
        self._lanes = {name: _Lane(target) for name, target in targets.items()}
        self._intents = intents
        self._firm_priority = band[1] - band[0]
        self._client = client
        self._finder = PostFinder(client, section, clock)
        self._store = store
        self._clock = clock
        self._publish = publish
        self._state_topic = state_topic
        self._metrics = metrics
        self._audit = audit
        self._actor = Actor(PROTOCOL, section.base_url)
        client.alarm = client.tokens.alarm = lambda what, detail: self._note("alarm", what, "raised", detail)
        self._group: asyncio.TaskGroup | None = None
        self._listing: asyncio.Task[dict[str, str] | None] | None = None
        self._stopped = asyncio.Event()
        self._ems_heard = clock()
        self._ems_silent = False

    # ---- outside view ------------------------------------------------------------------------------------

    @property
    def fallback_active(self) -> bool:
        """Whether some direction runs on its firm capacity."""
        return any(lane.fallback is not None for lane in self._lanes.values())

    @property
    def auth_failed(self) -> bool:
        """Whether the token endpoint refuses the credentials."""
        return self._client.tokens.failed is not None

    async def run(self) -> None:
        """Resume what the store holds, then serve requests until `stop`."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            self._resume()
            self.publish_state()
            silence = group.create_task(self._watch_ems())
            await self._stopped.wait()
            silence.cancel()
            if self._listing is not None:
                self._listing.cancel()
            for lane in self._lanes.values():
                for task in (lane.request_task, lane.release, *lane.watchers.values()):
                    if task is not None:
                        task.cancel()
        self._group = None
        await self._client.close()

    def stop(self) -> None:
        """The gateway stops: running grants give way to firm capacity (`on_shutdown`), the tasks end."""
        if self._section.on_shutdown == "firm":
            for lane in self._lanes.values():
                if lane.grants:
                    self._enter_firm(lane, "gateway stopping")
        self._stopped.set()

    def submit(
        self, payload: bytes, response_topic: str | None = None, correlation: bytes | None = None
    ) -> None:
        """An EMS request: parsed, checked and answered at once; HEDERA is asked in a task of its own."""
        now = self._clock()
        ems = self._section.ems
        self.ems_heard()
        try:
            request = parse_request(payload, now, relaxed=ems.accept_relaxed_json)
        except EmsInputError as exc:
            self._metrics.requests.labels(outcome="rejected").inc()
            log.warning("EMS request refused", reason=str(exc), size=len(payload))
            topic = ems.reply(response_topic)
            self._publish(topic, reply(None, "rejected", now, None, message=str(exc)), False, correlation)  # noqa: FBT003
            self._note("request", "ems", "refused", str(exc))
            return
        request = replace(request, response_topic=response_topic, correlation=correlation)
        self._note("request", request.direction, "received", hashlib.sha256(payload).hexdigest()[:16])
        self._reply(request, "received")
        lane = self._lanes.get(request.direction)
        problem = self._problem(request, lane, now)
        if problem is not None or lane is None:
            self._metrics.requests.labels(outcome="rejected").inc()
            self._reply(request, "rejected", message=problem)
            self._note("request", request.direction, "refused", problem or "")
            return
        old, previous = lane.request_task, lane.request
        if old is not None and not old.done():
            old.cancel()
            lane.orphan = lane.posted  # awaiting HEDERA's decision: the new request deletes it first
            if previous is not None:
                self._reply(previous, "superseded", schedule=lane.posted)
                self._metrics.requests.labels(outcome="superseded").inc()
        lane.request = request
        lane.request_task = self._spawn(self._handle(lane, request, old))

    def ems_heard(self) -> None:
        """A message of the EMS arrived (a request, its availability): an EMS lost by silence is back."""
        self._ems_heard = self._clock()
        if self._ems_silent:
            self._ems_silent = False
            self.ems_available(online=True)

    async def _watch_ems(self) -> None:
        """No EMS message for `ems_timeout_s` (also while the broker is out of reach): the EMS is lost."""
        timeout = self._section.ems.ems_timeout_s
        if timeout <= 0:
            return
        while True:
            await self._sleep_until(self._ems_heard + timeout)
            if not self._ems_silent and self._clock() >= self._ems_heard + timeout:
                self._ems_silent = True
                log.warning("no message of the EMS", silent_s=timeout)
                self.ems_available(online=False)
            elif self._ems_silent:
                await self._sleep_until(self._clock() + timeout)

    def ems_available(self, *, online: bool) -> None:
        """The EMS's availability: offline is lost (firm now, release later); online cancels the release."""
        for lane in self._lanes.values():
            if online:
                if lane.release is not None:
                    lane.release.cancel()
                    lane.release = None
                continue
            if self._section.ems.on_ems_loss != "firm" or not (lane.grants or lane.posted):
                continue
            self._enter_firm(lane, EMS_LOST)
            if lane.release is None:
                lane.release = self._spawn(self._release(lane))

    # ---- a request ---------------------------------------------------------------------------------------

    def _problem(self, request: EmsRequest, lane: _Lane | None, now: float) -> str | None:
        ems = self._section.ems
        if request.skip_hedera and not ems.allow_skip_hedera:
            return "skipHedera is not allowed ([hedera.ems] allow_skip_hedera)"
        if len(self._live_requests()) >= ems.queue_size:
            return "busy"
        target = lane.target if lane is not None else None
        return request_problem(
            request, now, configured=target is not None, max_w=target.section.max_w if target else 0.0,
            capacity=target.capacity if target else 0, lead_s=ems.start_lead_s,
            align=self._section.align_start,
        )  # fmt: skip

    def _live_requests(self) -> list[asyncio.Task[None]]:
        tasks = (lane.request_task for lane in self._lanes.values())
        return [t for t in tasks if t is not None and not t.done()]

    async def _handle(self, lane: _Lane, request: EmsRequest, superseded: asyncio.Task[None] | None) -> None:
        if superseded is not None:
            await asyncio.wait([superseded])
        section = self._section
        deadline = self._clock() + section.decision_timeout_s
        try:
            if lane.orphan is not None:
                orphan, lane.orphan = lane.orphan, None
                await self._delete(lane, orphan, "superseded by a newer request", deadline)
            await self._settle_posts(lane, deadline)
            if request.skip_hedera:
                grant = GrantedLimits(
                    request.start, request.resolution_s, request.values, (None,) * len(request.values)
                )
                self._grant(lane, request, f"ems-{request.id or 'skip'}", grant)
                return
            await self._clear_period(lane, request, deadline)
            row, directives = await self._submit(lane, request, deadline)
            lane.posted = row.id
            self._reply(request, "submitted", schedule=row.id)
            await self._decide(lane, row, request, directives)
        except (HederaError, HederaProtocolError) as exc:
            self._metrics.requests.labels(outcome="failed").inc()
            log.warning("HEDERA request failed", direction=lane.target.name, error=str(exc))
            self._note("request", lane.target.name, "failed", _with_request_id(exc))
            self._reply(request, "failed", schedule=lane.posted, message=str(exc))
        finally:
            lane.posted = None

    async def _submit(
        self, lane: _Lane, request: EmsRequest, deadline: float
    ) -> tuple[StoredSchedule, tuple[Directive, ...]]:
        """POST the request with a placeholder row stored until HEDERA's answer names the schedule.

        Only a refusal proves nothing was stored; after anything else (a cancel, a restart, no answer in
        time) the placeholder stays, and a newer request or the next start reconciles it with HEDERA.
        """
        placeholder = StoredSchedule(f"{POSTING}-{uuid.uuid4()}", lane.target.name, POSTING, request.id,
                                     request.start, request.resolution_s, len(request.values), self._clock(),
                                     request.response_topic)  # fmt: skip
        self._store.save(placeholder)
        try:
            schedule_id, directives = await self._post(lane, request, placeholder, deadline)
        except (HederaRefusedError, HederaAuthError):
            self._store.forget(placeholder.id)
            raise
        row = replace(placeholder, id=schedule_id, phase="pending", posted_at=self._clock())
        self._store.replace(placeholder.id, row)
        return row, directives

    async def _post(
        self, lane: _Lane, request: EmsRequest, placeholder: StoredSchedule, deadline: float
    ) -> tuple[str, tuple[Directive, ...]]:
        """POST the request; if HEDERA may have stored it unnamed, find and adopt that before posting anew."""
        section = lane.target.section
        body = schedule_request(
            str(section.mrid), section.hedera_direction, request.start, request.resolution_s, request.values
        )
        while True:
            try:
                answer = await self._client.post_schedule(body, deadline)
                schedule_id = schedule_reference(answer.body if isinstance(answer.body, dict) else {})
                break
            except (PostUncertainError, HederaProtocolError) as exc:
                stored = isinstance(exc, HederaProtocolError)  # answered 2xx: stored, but not named
                log.warning("HEDERA POST outcome unknown: reconciling before posting again",
                            direction=lane.target.name, error=str(exc))  # fmt: skip
                adopted = await self._finder.find(self._attempt(lane, placeholder), self._known(), deadline)
                if adopted is not None:
                    self._note("post", adopted, "adopted", f"the outcome of a POST was unknown: {exc}")
                    return adopted, ()
                if stored:
                    why = f"HEDERA stored the POST but lists no such schedule: {exc}"
                    raise PostUnresolvedError(why) from None
                log.info("the uncertain POST was not stored: posting again", direction=lane.target.name)
        self._note("post", schedule_id, "posted", f"{request.direction} {len(request.values)} values")
        return schedule_id, _directives(answer.body)

    async def _settle_posts(self, lane: _Lane, deadline: float) -> None:
        """Unanswered POSTs of this direction (superseded, or never resolved): delete what they stored."""
        for row in self._store.schedules():
            if row.phase != POSTING or row.direction != lane.target.name:
                continue
            budget = min(deadline, self._clock() + self._section.total_timeout_s)
            try:
                found = await self._finder.find(self._attempt(lane, row), self._known(), budget)
            except PostUnresolvedError as exc:
                log.warning("an unanswered POST could not be reconciled: a schedule may stay at HEDERA",
                            direction=lane.target.name, error=str(exc))  # fmt: skip
                found = None
            if found is not None:
                await self._delete(lane, found, "stored by a POST left unanswered", deadline)
            self._store.forget(row.id)

    def _attempt(self, lane: _Lane, row: StoredSchedule) -> PostAttempt:
        """What a (placeholder) row's POST asked for, to find it at HEDERA."""
        mrid = str(lane.target.section.mrid)
        return PostAttempt.of(mrid, row.start, row.resolution_s, row.n, row.posted_at)

    def _known(self) -> set[str]:
        """The schedules the adapter owns (never taken for another POST's)."""
        return {row.id for row in self._store.schedules()}

    async def _read(self, lane: _Lane, schedule_id: str, deadline: float) -> ScheduleAnswer | None:
        answer = await self._client.get_schedule(schedule_id, deadline)
        if not isinstance(answer.body, dict):
            return None
        return schedule_answer(answer.body, str(lane.target.section.mrid))

    async def _clear_period(self, lane: _Lane, request: EmsRequest, deadline: float) -> None:
        """Delete what would overlap the new request (`delete_scope`) before posting it."""
        doomed = [
            row.id for row in lane.grants.values() if row.start < request.end and request.start < row.end
        ]
        own = {sid for other in self._lanes.values() for sid in (*other.grants, other.posted) if sid}
        if self._section.delete_scope != "own":
            for schedule_id, _ in await self._client.list_schedules(LISTED, deadline):
                if schedule_id in own:  # the own ones of this direction are in `doomed` when they overlap
                    continue
                if self._section.delete_scope == "all" or await self._overlaps(
                    lane, schedule_id, request, deadline
                ):
                    doomed.append(schedule_id)
        now = self._clock()
        for schedule_id in doomed:
            row = lane.grants.get(schedule_id)
            if row is not None and row.start <= now < row.end:
                self._enter_firm(lane, "the running grant is replaced")
            await self._delete(lane, schedule_id, "overlaps a new request", deadline)

    async def _overlaps(self, lane: _Lane, schedule_id: str, request: EmsRequest, deadline: float) -> bool:
        """Whether a listed schedule limits the own inter-tie within the request's period (unreadable: no)."""
        try:
            found = await self._read(
                lane, schedule_id, min(deadline, self._clock() + self._section.total_timeout_s)
            )
        except (HederaError, HederaProtocolError) as exc:
            log.warning("a listed HEDERA schedule could not be read", schedule=schedule_id, error=str(exc))
            return False
        grant = found.grant if found is not None else None
        return grant is not None and grant.start < request.end and request.start < _end(grant)

    async def _delete(self, lane: _Lane, schedule_id: str, why: str, deadline: float) -> None:
        await self._client.delete_schedule(schedule_id, deadline)
        self._store.forget(schedule_id)
        self._note("delete", schedule_id, "deleted", why)
        if schedule_id in lane.grants:
            self._end_grant(lane, schedule_id)

    async def _decide(
        self, lane: _Lane, row: StoredSchedule, request: EmsRequest | None, directives: tuple[Directive, ...]
    ) -> None:
        """Follow HEDERA's directives until it decides, or delete the schedule at the decision timeout."""
        section = self._section
        deadline = row.posted_at + section.decision_timeout_s
        directive = _get_directive(directives, row.id)
        next_at = directive.start if directive else row.posted_at + section.first_poll_delay_s
        pending_replied = False
        while next_at < deadline:
            await self._sleep_until(next_at)
            window_end = directive.end if directive else next_at + section.poll_interval_s
            answer = await self._poll(lane, row, min(deadline, max(window_end, self._clock() + 1)))
            if answer is None or answer.state is ScheduleState.PENDING:
                if answer is not None and not pending_replied:
                    pending_replied = True
                    self._reply_row(row, request, "pending")
                directive = _get_directive(answer.directives, row.id) if answer is not None else None
                next_at = directive.start if directive else self._clock() + section.poll_interval_s
                continue
            self._metrics.decision.observe(self._clock() - row.posted_at)
            self._decided(lane, row, request, answer)
            return
        self._metrics.requests.labels(outcome="timeout").inc()
        self._store.forget(row.id)
        try:
            await self._delete(lane, row.id, "no decision in time", self._clock() + section.total_timeout_s)
        finally:
            why = f"no decision within {section.decision_timeout_s} s"
            self._reply_row(row, request, "timeout", message=why)

    async def _poll(self, lane: _Lane, row: StoredSchedule, deadline: float) -> ScheduleAnswer | None:
        """One GET of a pending schedule; None: no answer yet (also a 404 in the grace after the POST)."""
        try:
            return await self._read(lane, row.id, deadline)
        except HederaRefusedError as exc:
            if exc.status == 404 and self._clock() < row.posted_at + self._section.post_grace_s:
                return None
            raise
        except (HederaError, HederaProtocolError) as exc:
            log.info("HEDERA poll failed, trying again", schedule=row.id, error=str(exc))
            return None

    def _decided(
        self, lane: _Lane, row: StoredSchedule, request: EmsRequest | None, answer: ScheduleAnswer
    ) -> None:
        state = answer.state
        if state is ScheduleState.ACCEPTED and answer.grant is not None:
            self._note("decision", row.id, "accepted", answer.message or "")
            self._grant(lane, request, row.id, answer.grant, row=row, directives=answer.directives)
            return
        self._store.forget(row.id)
        outcome = OUTCOMES.get(state, "failed")
        self._metrics.requests.labels(outcome=outcome).inc()
        message = answer.message if state is ScheduleState.DECLINED else f"HEDERA answered {state.value}"
        self._note("decision", row.id, outcome, message or "")
        self._reply_row(row, request, outcome, message=message)

    # ---- grants ------------------------------------------------------------------------------------------

    def _grant(  # noqa: PLR0913 - a grant and where it came from
        self,
        lane: _Lane,
        request: EmsRequest | None,
        key: str,
        grant: GrantedLimits,
        *,
        row: StoredSchedule | None = None,
        directives: tuple[Directive, ...] = (),
    ) -> None:
        """Place an accepted grant; reply accepted (and restored, if it ends a fallback); watch it."""
        verdict = self._place(lane, key, grant)
        if isinstance(verdict, Refused):
            self._metrics.requests.labels(outcome="failed").inc()
            self._reply_row(row, request, "failed", schedule=key, message=f"not applied: {verdict.message}")
            if row is not None:
                self._store.forget(row.id)
            return
        self._metrics.requests.labels(outcome="accepted").inc()
        applied = (verdict.slots, verdict.priority) if isinstance(verdict, Placed) else None
        self._reply_row(row, request, "accepted", schedule=key, grant=grant, applied=applied)
        if row is not None:
            stored = replace(row, phase="grant", start=grant.start, resolution_s=grant.resolution_s,
                             n=len(grant.values))  # fmt: skip
            self._store.save(stored)
            lane.grants[row.id] = stored
            lane.granted[row.id] = grant
            lane.watchers[row.id] = self._spawn(self._watch(lane, stored, directives))
        self._restore(lane, asked=True)
        self.publish_state()

    def _place(self, lane: _Lane, key: str, grant: GrantedLimits) -> Verdict | None:
        """The grant as an intent: missing values are the firm capacity; entries already over are left out."""
        target = lane.target
        firm = target.section.firm_capacity_w
        watts = [firm if value is None else value for value in grant.values]
        over = max(0, math.floor((self._clock() - grant.start) / grant.resolution_s))
        if over >= len(watts):
            return None
        verdict = self._intents.place(Intent(
            actor=self._actor, key=f"{target.name}/{key}", target=target.controller,
            function=IntentFunction.MAX_POW, start=grant.start + over * grant.resolution_s,
            interval_s=grant.resolution_s, values=tuple(w / target.watts_per_unit for w in watts[over:]),
        ))  # fmt: skip
        self._note("grant", key, "placed" if isinstance(verdict, Placed) else "refused", repr(verdict))
        return verdict

    async def _watch(self, lane: _Lane, row: StoredSchedule, directives: tuple[Directive, ...]) -> None:
        """Re-read an applied grant by its directives until it is over; revisions and endings at once.

        A read that fails until the directive's window ends (or, without directives, for
        `grant_stale_after_s`) is lost contact: firm capacity, and a new read every `poll_interval_s`.
        """
        directive = _get_directive(directives, row.id)
        last_ok = self._clock()
        lost = False
        retrying: float | None = None  # the deadline of a read that failed before it
        while self._clock() < row.end:
            next_at, deadline = self._next_read(directive, last_ok, lost=lost, retrying=retrying)
            self._announce_window(lane, row.id, (next_at, deadline))
            await self._sleep_until(min(next_at, row.end))
            if self._clock() >= row.end:
                break
            try:
                answer = await self._read(lane, row.id, max(deadline, self._clock() + 1))
            except HederaRefusedError as exc:
                if exc.status == 404:
                    self._abnormal_end(lane, row, "the schedule is unknown at HEDERA")
                    return
                answer = None
            except (HederaError, HederaProtocolError):
                answer = None
            if answer is None:  # refused credentials fail at once: try again until the deadline
                retrying = deadline if not lost and self._clock() < deadline else None
                if retrying is None and not lost:
                    lost = True
                    self._enter_firm(lane, "HEDERA contact lost")
                continue
            last_ok, lost, retrying = self._clock(), False, None
            directive = _get_directive(answer.directives, row.id)
            if answer.state is ScheduleState.CLOSED:
                break
            if not self._confirmed(lane, row, answer):
                return
        lane.windows.pop(row.id, None)
        self._end_grant(lane, row.id)
        self.publish_state()

    def _announce_window(self, lane: _Lane, schedule_id: str, window: tuple[float, float]) -> None:
        """A grant's next read, in the retained state when it moves."""
        if lane.windows.get(schedule_id) != window:
            lane.windows[schedule_id] = window
            self.publish_state()

    def _next_read(
        self, directive: Directive | None, last_ok: float, *, lost: bool, retrying: float | None
    ) -> tuple[float, float]:
        """When to read a grant next, and until when a read may succeed (`retrying`: a failed read's)."""
        section = self._section
        if retrying is not None:
            return min(self._clock() + section.poll_interval_s, retrying), retrying
        if lost:
            next_at = self._clock() + section.poll_interval_s
            return next_at, next_at + section.total_timeout_s
        if directive is not None:
            return directive.start, directive.end
        return last_ok + section.refresh_interval_s, last_ok + section.grant_stale_after_s

    def _confirmed(self, lane: _Lane, row: StoredSchedule, answer: ScheduleAnswer) -> bool:
        """A read of a running grant: still Accepted (revised at once), or ended (False)."""
        if answer.state is not ScheduleState.ACCEPTED or answer.grant is None:
            self._abnormal_end(lane, row, f"HEDERA answered {answer.state.value}")
            return False
        known = lane.granted.get(row.id)
        if answer.grant != known:
            lane.granted[row.id] = answer.grant
            self._place(lane, row.id, answer.grant)
            if known is not None:  # else resumed after a restart: placed again as it stands
                self._note("grant", row.id, "revised", "HEDERA changed the grant")
                self._reply_row(row, None, "accepted", grant=answer.grant, message="revised by HEDERA")
            self.publish_state()
        self._restore(lane, asked=False)
        return True

    def _abnormal_end(self, lane: _Lane, row: StoredSchedule, why: str) -> None:
        self._note("grant", row.id, "ended", why)
        self._enter_firm(lane, f"grant ended: {why}")
        self._end_grant(lane, row.id)
        self._reply_row(row, None, "cancelled", schedule=row.id, message=why)
        self.publish_state()

    def _end_grant(self, lane: _Lane, schedule_id: str) -> None:
        """Disable the grant's slots and forget it."""
        self._intents.cancel(self._actor, f"{lane.target.name}/{schedule_id}")
        lane.grants.pop(schedule_id, None)
        lane.granted.pop(schedule_id, None)
        watcher = lane.watchers.pop(schedule_id, None)
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
        self._store.forget(schedule_id)

    async def _release(self, lane: _Lane) -> None:
        """The EMS stayed away: delete the direction's schedules at HEDERA (firm capacity stays)."""
        await asyncio.sleep(self._section.ems.release_after_s)
        deadline = self._clock() + self._section.decision_timeout_s
        for schedule_id in [*lane.grants, *([lane.posted] if lane.posted else [])]:
            try:
                await self._delete(lane, schedule_id, "EMS lost", deadline)
            except HederaError as exc:
                log.warning("HEDERA schedule not released", schedule=schedule_id, error=str(exc))
        if lane.request_task is not None:
            lane.request_task.cancel()
        lane.release = None
        self.publish_state()

    # ---- firm capacity -----------------------------------------------------------------------------------

    def _enter_firm(self, lane: _Lane, reason: str) -> None:
        if lane.fallback is not None:
            return
        target = lane.target
        verdict = self._intents.place(Intent(
            actor=self._actor, key=f"{target.name}/{FIRM}", target=target.controller,
            function=IntentFunction.MAX_POW, start=NOW, interval_s=UNTIL_CHANGED,
            values=(target.section.firm_capacity_w / target.watts_per_unit,),
            rel_priority=self._firm_priority,
        ))  # fmt: skip
        if isinstance(verdict, Refused):
            log.error("firm capacity not placed", direction=target.name, reason=verdict.message)
        lane.fallback = reason
        self._store.set_fallback(target.name, reason, self._clock())
        self._metrics.fallback_active.labels(direction=target.name).set(1)
        log.warning("HEDERA fallback to firm capacity", direction=target.name, reason=reason,
                    firm_w=target.section.firm_capacity_w)  # fmt: skip
        self._note("fallback", target.name, "entered", reason)
        self._reply(lane.request, "fallback", message=reason, direction=target.name)
        self.publish_state()

    def _restore(self, lane: _Lane, *, asked: bool) -> None:
        """Lift the firm capacity: a grant is confirmed (after an EMS loss: one the EMS `asked` for anew)."""
        if lane.fallback is None or (lane.fallback == EMS_LOST and not asked):
            return
        self._intents.cancel(self._actor, f"{lane.target.name}/{FIRM}")
        self._note("fallback", lane.target.name, "left", f"a grant is confirmed (was: {lane.fallback})")
        lane.fallback = None
        self._store.set_fallback(lane.target.name, None, self._clock())
        self._metrics.fallback_active.labels(direction=lane.target.name).set(0)
        log.info("HEDERA grant confirmed: firm capacity lifted", direction=lane.target.name)
        self._reply(lane.request, "restored", direction=lane.target.name)

    # ---- resume ------------------------------------------------------------------------------------------

    def _resume(self) -> None:
        """Pick up the stored schedules and fallbacks, reconciled with HEDERA.

        Every grant is re-read at once (a grant HEDERA changed, ended or forgot meanwhile is revised or
        ends in firm capacity). Requests awaiting a decision are checked against HEDERA's list of live
        schedules; POSTs left unanswered are looked for at HEDERA and adopted, never posted again.
        """
        for direction, reason in self._store.fallbacks().items():
            lane = self._lanes.get(direction)
            if lane is not None:
                lane.fallback = reason
                self._metrics.fallback_active.labels(direction=direction).set(1)
        now = self._clock()
        for row in self._store.schedules():
            lane = self._lanes.get(row.direction)
            if lane is None:
                log.warning("a stored HEDERA schedule of a direction no longer configured is left",
                            schedule=row.id, direction=row.direction)  # fmt: skip
                continue
            if row.phase == "grant":
                lane.grants[row.id] = row
                at_once = (
                    Directive(f"/schedule/{row.id}", "GET", now, now + self._section.grant_stale_after_s),
                )
                lane.watchers[row.id] = self._spawn(self._watch(lane, row, at_once))
            else:
                lane.request = _stored_request(row)  # a newer request answers it `superseded`
                if row.phase == POSTING:
                    lane.request_task = self._spawn(self._resume_post(lane, row))
                else:
                    lane.posted = row.id
                    lane.request_task = self._spawn(self._resume_listed(lane, row, self._live_listing()))
            log.info("HEDERA schedule resumed", schedule=row.id, phase=row.phase, direction=row.direction)

    def _live_listing(self) -> asyncio.Task[dict[str, str] | None]:
        """The start-up listing of HEDERA's live schedules, one task shared by every resumed request."""
        if self._listing is None:
            assert self._group is not None  # `run` resumes inside its task group
            self._listing = self._group.create_task(self._list_live())
        return self._listing

    async def _list_live(self) -> dict[str, str] | None:
        """HEDERA's live schedules at start-up, by id (None: not listable now; each is read instead)."""
        try:
            listed = await self._client.list_schedules(LISTED, self._clock() + self._section.total_timeout_s)
        except HederaError as exc:
            log.warning("HEDERA's schedules not listed at start-up: each is read instead", error=str(exc))
            return None
        return dict(listed)

    async def _resume_listed(
        self, lane: _Lane, row: StoredSchedule, listing: asyncio.Task[dict[str, str] | None]
    ) -> None:
        listed = await asyncio.shield(listing)  # shared by every resumed request: a cancel must not end it
        await self._resume_pending(lane, row, None if listed is None else listed.get(row.id, "unlisted"))

    async def _resume_pending(self, lane: _Lane, row: StoredSchedule, status: str | None) -> None:
        """A request awaiting the decision at a restart; `status`: its state in HEDERA's list (None: unknown).

        Still Pending: the polling goes on (deleted at the decision timeout). Else it was decided, withdrawn
        or forgotten meanwhile: one read at once settles it, even past the decision timeout, so a grant
        given meanwhile is applied, a decline or cancel is replied, a forgotten one is failed.
        """
        try:
            self._note("reconcile", row.id, status or "not listed", "awaiting the decision at the restart")
            answer = None
            if status != "Pending":
                answer = await self._poll(lane, row, self._clock() + self._section.total_timeout_s)
            if answer is not None and answer.state is not ScheduleState.PENDING:
                self._metrics.decision.observe(self._clock() - row.posted_at)
                self._decided(lane, row, None, answer)
                return
            await self._decide(lane, row, None, answer.directives if answer is not None else ())
        except (HederaError, HederaProtocolError) as exc:
            gone = isinstance(exc, HederaRefusedError) and exc.status == 404
            message = "HEDERA no longer knows the schedule" if gone else str(exc)
            self._metrics.requests.labels(outcome="failed").inc()
            self._note("request", row.id, "failed", message)
            self._store.forget(row.id)
            self._reply_row(row, None, "failed", schedule=row.id, message=message)
        finally:
            lane.posted = None

    async def _resume_post(self, lane: _Lane, row: StoredSchedule) -> None:
        """A POST unanswered when the gateway stopped: adopt what HEDERA stored of it, never post it again."""
        deadline = self._clock() + self._section.decision_timeout_s
        try:
            found = await self._finder.find(self._attempt(lane, row), self._known(), deadline)
        except (HederaError, HederaProtocolError) as exc:
            found, why = None, f"could not be reconciled with HEDERA ({exc}): a schedule may stay there"
        else:
            why = "HEDERA holds no schedule of it: ask again"
        if found is None:
            log.warning("a POST unanswered before the restart is given up", schedule=row.id, why=why)
            self._metrics.requests.labels(outcome="failed").inc()
            self._note("post", row.id, "lost", why)
            self._store.forget(row.id)
            message = f"the request sent before the restart {why}"
            self._reply_row(row, None, "failed", schedule=None, message=message)
            return
        pending = replace(row, id=found, phase="pending")
        self._store.replace(row.id, pending)
        self._note("post", found, "adopted", "a POST unanswered before the restart was found stored")
        self._reply_row(pending, None, "submitted")
        lane.posted = found
        await self._resume_pending(lane, pending, None)

    # ---- replies, state, audit ---------------------------------------------------------------------------

    def _reply(
        self,
        request: EmsRequest | None,
        state: str,
        *,
        direction: str | None = None,
        **fields: Any,
    ) -> None:
        topic = self._section.ems.reply(request.response_topic if request is not None else None)
        request_id = request.id if request is not None else None
        direction = direction or (request.direction if request else None)
        payload = reply(request_id, state, self._clock(), direction, **fields)
        correlation = request.correlation if request is not None else None
        self._publish(topic, payload, False, correlation)  # noqa: FBT003 - not retained

    def _reply_row(
        self, row: StoredSchedule | None, request: EmsRequest | None, state: str, **fields: Any
    ) -> None:
        """Reply about a stored schedule: to its request, or after a restart to where its request asked."""
        if request is None and row is not None:
            request = _stored_request(row)
        fields.setdefault("schedule", row.id if row is not None else None)
        self._reply(request, state, **fields)

    def publish_state(self) -> None:
        """Publish the retained `state`."""
        self._publish(self._state_topic, self.state(), True, None)  # noqa: FBT003 - retained

    def state(self) -> dict[str, Any]:
        """Per direction the grants, the mode, the fallback's reason; contact; Sunset (and the grant gauge).

        With each grant its next read (HEDERA's directive window): from `from`; unconfirmed by `until`, the
        direction falls back to firm capacity.
        """
        now = self._clock()
        directions = {}
        for name, lane in self._lanes.items():
            running = [g for g in lane.granted.values() if g.start <= now < _end(g)]
            mode = "firm" if lane.fallback is not None else "grant" if running else "idle"
            grants = [
                {"schedule": sid, "start": g.start, "resolution_s": g.resolution_s, "values": list(g.values)}
                for sid, g in lane.granted.items()
            ]
            reads = [{"schedule": sid, "from": a, "until": b} for sid, (a, b) in lane.windows.items()]
            directions[name] = {
                "mode": mode, "fallback_reason": lane.fallback, "grants": grants, "next_read": reads,
            }  # fmt: skip
            current = _current_value(running, now)
            self._metrics.grant_w.labels(direction=name).set(current if current is not None else math.nan)
        return {"ts": now, "directions": directions, "last_contact": self._client.last_contact,
                "sunset": self._client.sunset, "auth_failed": self.auth_failed}  # fmt: skip

    def _note(self, command: str, obj: str, result: str, reason: str) -> None:
        if self._audit is not None:
            self._audit(actor_entry(self._clock(), self._actor, command, obj, result=result, reason=reason))

    # ---- tasks and time ----------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        if self._group is None:
            raise RuntimeError("the HEDERA lifecycle is not running")
        task = self._group.create_task(_guarded(coroutine))
        task.add_done_callback(lambda _: coroutine.close())  # cancelled before it ran: no "never awaited"
        return task

    async def _sleep_until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self._clock()))


async def _guarded(coroutine: Coroutine[Any, Any, None]) -> None:
    """A task's failure is logged; it never takes the adapter (or the gateway) down."""
    try:
        await coroutine
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("HEDERA task failed")


def _get_directive(directives: tuple[Directive, ...], schedule_id: str) -> Directive | None:
    return next(
        (d for d in directives if d.method == "GET" and d.path.endswith(f"/schedule/{schedule_id}")), None
    )


def _directives(body: Any) -> tuple[Directive, ...]:
    return read_directives(body) if isinstance(body, dict) else ()


def _end(grant: GrantedLimits) -> float:
    return grant.start + grant.resolution_s * len(grant.values)


def _current_value(grants: list[GrantedLimits], now: float) -> float | None:
    for grant in grants:
        value = grant.values[int((now - grant.start) // grant.resolution_s)]
        if value is not None:
            return value
    return None


def _with_request_id(exc: Exception) -> str:
    request_id = exc.request_id if isinstance(exc, HederaRefusedError) else None
    return f"{exc} (requestId {request_id})" if request_id else str(exc)


def _stored_request(row: StoredSchedule) -> EmsRequest:
    """The request a stored schedule answers, as far as it was stored (its values are not)."""
    return EmsRequest(row.request_id, row.direction, row.start, row.resolution_s, (),
                      skip_hedera=False, response_topic=row.reply_topic)  # fmt: skip
