"""A fake HEDERA (schedules API and its OAuth2 token endpoint) on loopback, for tests and the demo.

It follows the reconstructed API (`hedera-adapter.md` section 12): bearer tokens that expire on the injected
clock, media-type versioning, schedules that go Pending -> Accepted/Declined by a script per inter-tie,
request directives, a paged list, 404 for a moment after a POST. Faults are injected per endpoint (status
bursts with `Retry-After`, hangs, connection resets, the whole server down); every call is recorded with
the clock's time so tests can check headers and the timing against the directives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from relevent.wan.hedera.codec import RESOLUTIONS, iso, parse_time

Clock = Callable[[], float]
Points = Callable[[Sequence[float]], list[dict[str, Any]]]  # requested W -> granted points
ENDPOINTS = ("token", "post", "get", "delete", "list", "put")
MAX_DURATION_S = 86400
MAX_AHEAD_S = 2 * 86400


@dataclass
class Script:
    """What HEDERA decides for a schedule: Pending for `polls` GETs (None: forever), then `outcome`."""

    polls: int | None = 0
    outcome: str = "Accepted"  # or "Declined", or any other @type (e.g. "Suspended")
    message: str | None = None
    points: Points | None = None  # default: the requested values
    multiplier: str = "none"
    parent: Points | None = None  # an aggregating parent inter-tie, listed first
    revise_at: float | None = None
    revised: Points | None = None
    cancel_at: float | None = None


@dataclass
class FakeSchedule:
    """A schedule as the fake keeps it."""

    id: str
    mrid: str
    direction: str
    start: float
    resolution_s: int
    requested: list[float]
    created_at: float
    script: Script
    state: str = "Pending"
    message: str | None = None
    polls: int = 0
    points: list[dict[str, Any]] = field(default_factory=list)

    @property
    def end(self) -> float:
        """When its last period ends."""
        return self.start + self.resolution_s * len(self.requested)


@dataclass(frozen=True)
class Call:
    """One request the fake received, at the clock's time, and its answer's status (0: none given)."""

    at: float
    endpoint: str
    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool
    accept_ok: bool
    content_type: str | None
    body: Any
    status: int


@dataclass
class _Fault:
    endpoint: str
    kind: str  # "status", "hang", "reset"
    times: int | None  # None: until cleared
    status: int = 500
    body: str = "server"  # "server", "garbage", "empty"
    retry_after: float | None = None
    path: str | None = None  # only calls of this path


class FakeHedera:
    """The fake server. `start` listens on 127.0.0.1; `url` is then its base URL (token at `/token`)."""

    def __init__(  # noqa: PLR0913 - the fake's knobs, each with the API's default
        self,
        clock: Clock,
        inter_ties: Mapping[str, str],
        *,
        client_id: str = "client",
        client_secret: str = "secret",  # noqa: S107 - the fake's own test credential
        scope: str = "api://api.hedera.alliander.com/.default",
        media_type: str = "application/vnd.hedera.v1+json",
        token_ttl_s: float = 3600.0,
        not_found_window_s: float = 0.0,
        poll_window: tuple[float, float] = (2.0, 30.0),
        refresh_window: tuple[float, float] | None = (300.0, 60.0),  # None: no directive once accepted
    ) -> None:
        """`inter_ties`: mRID -> direction letter of the participant's contract."""
        self.clock = clock
        self.inter_ties = dict(inter_ties)
        self.client_id, self.client_secret, self.scope = client_id, client_secret, scope
        self.media_type = media_type
        self.old_media_types: set[str] = set()  # answered with a Sunset header
        self.token_ttl_s = token_ttl_s
        self.not_found_window_s = not_found_window_s
        self.poll_window = poll_window
        self.refresh_window = refresh_window
        self.sunset: str | None = None
        self.pending_ties = True  # False: Pending answers list no inter-tie (so no period), as HEDERA may
        self.scripts: dict[str | None, Script] = {None: Script()}
        self.schedules: dict[str, FakeSchedule] = {}
        self.calls: list[Call] = []
        self.issued: list[tuple[float, str, str, float, float]] = []  # at, method, path, window
        self.token_requests = 0
        self._tokens: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._tls: ssl.SSLContext | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self._down = False
        self.app = web.Application(middlewares=[self._unless_down])
        self.app.router.add_post("/token", self._token)
        self.app.router.add_post("/schedule", self._post)
        self.app.router.add_get("/schedule/{id}", self._get)
        self.app.router.add_delete("/schedule/{id}", self._delete)
        self.app.router.add_put("/schedule/{id}", self._put)
        self.app.router.add_route("OPTIONS", "/schedule", self._options)
        self.app.router.add_route("OPTIONS", "/schedule/{id}", self._options)
        self.app.router.add_get("/schedules", self._list)

    # ---- life --------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL of the schedule API."""
        return f"{'https' if self._tls is not None else 'http'}://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        """The token endpoint's URL."""
        return f"{self.url}/token"

    async def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        """Listen on 127.0.0.1 (`port` 0: a free one), over TLS with `tls`."""
        self._tls = tls
        self._runner = web.AppRunner(self.app, handler_cancellation=True)
        await self._runner.setup()
        await self._listen(port)

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True, ssl_context=self._tls)
        await self._site.start()
        server = self._site._server  # noqa: SLF001 - the bound port of port 0
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening: new connections are refused, requests on open ones are cut off unanswered."""
        self._down = True
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def up(self) -> None:
        """Listen again on the same port."""
        self._down = False
        if self._site is None:
            await self._listen(self.port)

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- scripts and faults ------------------------------------------------------------------------------

    def script(self, script: Script, mrid: str | None = None) -> None:
        """Decide the schedules of `mrid` (None: of every inter-tie without its own script) by `script`."""
        self.scripts[mrid] = script

    def fail(
        self,
        endpoint: str,
        status: int,
        times: int | None = 1,
        *,
        body: str = "server",
        retry_after: float | None = None,
    ) -> None:
        """Answer `status` to the next `times` calls of `endpoint` (None: until `clear`)."""
        self._faults.append(_Fault(endpoint, "status", times, status, body, retry_after))

    def hang(self, endpoint: str, times: int | None = None, path: str | None = None) -> None:
        """Never answer the next `times` calls of `endpoint` (None: until `clear`), of `path` if given."""
        self._faults.append(_Fault(endpoint, "hang", times, path=path))

    def reset(self, endpoint: str, times: int | None = 1) -> None:
        """Handle the next `times` calls of `endpoint`, then close the connection without an answer."""
        self._faults.append(_Fault(endpoint, "reset", times))

    def clear(self) -> None:
        """No more injected faults."""
        self._faults.clear()

    def expire_tokens(self) -> None:
        """Every issued token is invalid from now on."""
        self._tokens.clear()

    def rotate_secret(self, secret: str = "rotated") -> None:  # noqa: S107 - a test credential
        """The configured secret no longer works (`invalid_client`)."""
        self.client_secret = secret

    def directive_compliance(self) -> list[str]:
        """Per directive issued, where the client's next matching call came: inside, early, late, missing."""
        verdicts = []
        for at, method, path, start, end in self.issued:
            later = [c for c in self.calls if c.at > at and c.method == method and c.path == path]
            if not later:
                verdicts.append("missing")
            else:
                first = later[0].at
                verdicts.append("early" if first < start else "late" if first > end else "inside")
        return verdicts

    def calls_to(self, endpoint: str) -> list[Call]:
        """The calls of one endpoint, in order."""
        return [call for call in self.calls if call.endpoint == endpoint]

    # ---- handlers ----------------------------------------------------------------------------------------

    @web.middleware
    async def _unless_down(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._down:  # a kept-alive connection outlives the listener: cut it as a dead server would
            return await _reset(request)
        return await handler(request)

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.token_requests += 1
        form = await request.post()
        injected = await self._fault("token", request, form)
        if injected is not None:
            return injected
        if form.get("grant_type") != "client_credentials":
            return self._record(request, "token", form, _token_error(400, "unsupported_grant_type"))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self._record(request, "token", "<form>", _token_error(401, "invalid_client"))
        if form.get("scope") != self.scope:
            return self._record(request, "token", "<form>", _token_error(400, "invalid_scope"))
        token = f"fake-{next(self._counter)}"
        self._tokens[token] = self.clock() + self.token_ttl_s
        ttl = round(self.token_ttl_s)
        answer = {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": token}
        return self._record(request, "token", "<form>", web.json_response(answer))

    async def _post(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        refused = await self._check(request, "post", body)
        if refused is not None:
            return refused
        problem, schedule = self._create(body)
        if schedule is None:
            return self._record(request, "post", body, self._client_error(request, 400, problem))
        path = f"/schedule/{schedule.id}"
        answer = {"mRID": str(uuid.uuid4()), "scheduleReference": {"mRID": schedule.id},
                  "requestDirectives": [self._directive("GET", path, self.poll_window)]}  # fmt: skip
        if self._resets("post"):
            self._note(request, "post", body, 0)
            return await _reset(request)
        return self._record(request, "post", body, self._json(answer, 201))

    async def _get(self, request: web.Request) -> web.StreamResponse:
        refused = await self._check(request, "get", None)
        if refused is not None:
            return refused
        schedule = self.schedules.get(request.match_info["id"])
        now = self.clock()
        if schedule is None or now < schedule.created_at + self.not_found_window_s:
            return self._record(request, "get", None, self._client_error(request, 404, "schedule not found"))
        self._step(schedule, now)
        path = f"/schedule/{schedule.id}"
        found = []
        if schedule.state == "Pending":
            found = [self._directive("GET", path, self.poll_window)]
        elif schedule.state == "Accepted" and self.refresh_window is not None:
            found = [self._directive("GET", path, self.refresh_window)]
        answer = {"mRID": str(uuid.uuid4()), "requestDirectives": found, "schedule": self._schedule(schedule)}
        return self._record(request, "get", None, self._json(answer, 200))

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        refused = await self._check(request, "delete", None)
        if refused is not None:
            return refused
        schedule = self.schedules.get(request.match_info["id"])
        if schedule is None:
            return self._record(
                request, "delete", None, self._client_error(request, 404, "schedule not found")
            )
        schedule.state = "Cancelled"
        return self._record(request, "delete", None, self._with_sunset(web.Response(status=204)))

    async def _put(self, request: web.Request) -> web.StreamResponse:
        return self._record(request, "put", None, self._client_error(request, 501, "not implemented"))

    async def _options(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={"Allow": "GET, POST, PUT, DELETE, OPTIONS"})

    async def _list(self, request: web.Request) -> web.StreamResponse:
        refused = await self._check(request, "list", None)
        if refused is not None:
            return refused
        try:
            size = int(request.query.get("pageSize", "10"))
            number = int(request.query.get("page", "0"))
        except ValueError:
            size = number = -1
        if not 1 <= size <= 10 or number < 0:
            return self._record(request, "list", None, self._client_error(request, 400, "pageSize 1..10"))
        wanted = set(request.query.getall("status", []))
        now = self.clock()
        for schedule in self.schedules.values():
            self._close_if_over(schedule, now)
        rows = [s for s in self.schedules.values() if not wanted or s.state in wanted]
        page = rows[number * size : (number + 1) * size]
        answer = {
            "schedules": [{"mRID": s.id, "status": s.state} for s in page],
            "page": {"size": size, "totalElements": len(rows), "totalPages": -(-len(rows) // size),
                     "number": number},
        }  # fmt: skip
        return self._record(request, "list", None, self._json(answer, 200))

    # ---- the schedules -----------------------------------------------------------------------------------

    def _create(self, body: Any) -> tuple[str, FakeSchedule | None]:
        """A new Pending (or, overlapping, Declined) schedule, or why the request is refused."""
        try:
            ties = body["registeredInterTies"]
            tie = ties[0]
            mrid, direction = str(tie["mRID"]), tie["direction"]
            period = tie["timeSeries"]["period"]
            resolution = RESOLUTIONS[period["resolution"]]
            start = parse_time(period["timeInterval"]["start"])
            end = parse_time(period["timeInterval"]["end"])
            points = tie["timeSeries"]["points"]
            values = [float(p["quantity"]) for p in sorted(points, key=lambda p: int(p["position"]))]
            positions = sorted(int(p["position"]) for p in points)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return f"invalid schedule request: {exc!r}", None
        now = self.clock()
        count = round((end - start) / resolution)
        problems = [
            (len({str(t.get("mRID")) for t in ties}) != len(ties), "duplicate inter-tie"),
            (mrid not in self.inter_ties, "unknown inter-tie"),
            (self.inter_ties.get(mrid) != direction, "direction does not match the inter-tie"),
            (end - start > MAX_DURATION_S, "Schedule exceeds maximum duration of 1 day"),
            (start > now + MAX_AHEAD_S, "Schedule starts more than 2 days ahead"),
            (positions != list(range(count)), "points outside the interval"),
        ]
        problem = next((text for bad, text in problems if bad), None)
        if problem is not None:
            return problem, None
        script = self.scripts.get(mrid, self.scripts[None])
        schedule = FakeSchedule(str(uuid.uuid4()), mrid, direction, start, resolution, values, now, script)
        live = [s for s in self.schedules.values() if s.mrid == mrid and s.state in ("Pending", "Accepted")]
        overlapping = [s for s in live if s.start < schedule.end and schedule.start < s.end]
        if overlapping:
            schedule.state = "Declined"
            schedule.message = "Request declined because it was overlapping with a already existing request"
        self.schedules[schedule.id] = schedule
        return "", schedule

    def _step(self, schedule: FakeSchedule, now: float) -> None:
        """A GET moves the schedule along its script and the clock."""
        script = schedule.script
        if schedule.state == "Pending":
            schedule.polls += 1
            if script.polls is not None and schedule.polls > script.polls:
                schedule.state, schedule.message = script.outcome, script.message
                if script.outcome == "Accepted":
                    schedule.points = (script.points or _as_requested)(schedule.requested)
        if schedule.state == "Accepted":
            if script.cancel_at is not None and now >= script.cancel_at:
                schedule.state = "Cancelled"
            elif script.revise_at is not None and now >= script.revise_at and script.revised is not None:
                schedule.points = script.revised(schedule.requested)
        self._close_if_over(schedule, now)

    @staticmethod
    def _close_if_over(schedule: FakeSchedule, now: float) -> None:
        if schedule.state == "Accepted" and now >= schedule.end:
            schedule.state = "Closed"

    def _schedule(self, schedule: FakeSchedule) -> dict[str, Any]:
        ties = []
        script = schedule.script
        if schedule.state == "Pending" and self.pending_ties:  # the request as it stands
            ties.append(self._tie(schedule, schedule.mrid, _as_requested(schedule.requested), []))
        if schedule.state in ("Accepted", "Closed"):
            if script.parent is not None:
                parent = str(uuid.uuid5(uuid.NAMESPACE_URL, schedule.mrid))
                ties.append(self._tie(schedule, parent, script.parent(schedule.requested), [schedule.mrid]))
            ties.append(self._tie(schedule, schedule.mrid, schedule.points, []))
        now = iso(self.clock())
        answer: dict[str, Any] = {"mRID": schedule.id, "@type": schedule.state, "timestamp": now,
                                  "registeredInterTies": ties}  # fmt: skip
        if schedule.message is not None:
            answer["message"] = schedule.message
        return answer

    @staticmethod
    def _tie(
        schedule: FakeSchedule, mrid: str, points: list[dict[str, Any]], children: list[str]
    ) -> dict[str, Any]:
        resolution = next(name for name, seconds in RESOLUTIONS.items() if seconds == schedule.resolution_s)
        return {
            "mRID": mrid, "direction": schedule.direction, "isAggregatedRes": bool(children),
            "aggregatedNodes": [{"mRID": child} for child in children],
            "timeSeries": {
                "mRID": mrid,
                "period": {"resolution": resolution,
                           "timeInterval": {"start": iso(schedule.start), "end": iso(schedule.end)}},
                "quantity": {"unitMultiplier": schedule.script.multiplier, "unitSymbol": "W"},
                "points": points,
            },
        }  # fmt: skip

    def _directive(self, method: str, path: str, window: tuple[float, float]) -> dict[str, Any]:
        now = self.clock()  # the window in whole seconds, as HEDERA writes it
        start, end = math.ceil(now + window[0]), math.floor(now + window[0] + window[1])
        self.issued.append((now, method, path, start, end))
        return {"path": path, "method": method, "window": {"start": iso(start), "end": iso(end)}}

    # ---- checks, faults, answers -------------------------------------------------------------------------

    async def _check(self, request: web.Request, endpoint: str, body: Any) -> web.StreamResponse | None:
        """An injected fault, a missing or expired token, or an unacceptable media type; None: go on."""
        injected = await self._fault(endpoint, request, body)
        if injected is not None:
            return injected
        if not self._authorized(request):
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            answer = web.json_response({"error": "invalid_token"}, status=401, headers=challenge)
            return self._record(request, endpoint, body, answer)
        if not self._accept_ok(request):
            answer = self._json({"acceptable": [self.media_type]}, 406)
            return self._record(request, endpoint, body, answer)
        return None

    async def _fault(self, endpoint: str, request: web.Request, body: Any) -> web.StreamResponse | None:
        fault = next((f for f in self._faults if f.endpoint == endpoint and f.kind != "reset"
                      and f.path in (None, request.path)), None)  # fmt: skip
        if fault is None:
            return None
        self._consume(fault)
        if fault.kind == "hang":
            self._note(request, endpoint, body, 0)
            await asyncio.Event().wait()
        headers = {} if fault.retry_after is None else {"Retry-After": str(round(fault.retry_after))}
        if fault.body == "garbage":
            answer = web.Response(status=fault.status, text="<html>oops", headers=headers)
        elif fault.body == "empty":
            answer = web.Response(status=fault.status, headers=headers)
        else:
            answer = self._error_body(request, fault.status, "injected", headers)
        return self._record(request, endpoint, body, answer)

    def _resets(self, endpoint: str) -> bool:
        fault = next((f for f in self._faults if f.endpoint == endpoint and f.kind == "reset"), None)
        if fault is not None:
            self._consume(fault)
        return fault is not None

    def _consume(self, fault: _Fault) -> None:
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expiry = self._tokens.get(token)
        return scheme == "Bearer" and expiry is not None and self.clock() < expiry

    def _accept_ok(self, request: web.Request) -> bool:
        accept = request.headers.get("Accept", "")
        return accept == self.media_type or accept in self.old_media_types

    def _record(
        self, request: web.Request, endpoint: str, body: Any, answer: web.StreamResponse
    ) -> web.StreamResponse:
        self._note(request, endpoint, body, answer.status)
        return answer

    def _note(self, request: web.Request, endpoint: str, body: Any, status: int) -> None:
        """Record a call and its answer's status (0: none given)."""
        self.calls.append(Call(self.clock(), endpoint, request.method, request.path,
                               {k: request.query.getall(k) for k in request.query},
                               self._authorized(request) or endpoint == "token", self._accept_ok(request),
                               request.headers.get("Content-Type"), body, status))  # fmt: skip

    def _json(self, body: Any, status: int) -> web.Response:
        return self._with_sunset(
            web.Response(status=status, text=json.dumps(body), content_type="application/json")
        )

    def _with_sunset(self, answer: web.Response) -> web.Response:
        if self.sunset is not None:
            answer.headers["Sunset"] = self.sunset
            answer.headers["Link"] = f'<{self.url}/deprecation>; rel="sunset"'
        return answer

    def _client_error(self, request: web.Request, status: int, title: str) -> web.Response:
        return self._error_body(request, status, title, {})

    def _error_body(
        self, request: web.Request, status: int, title: str, headers: Mapping[str, str]
    ) -> web.Response:
        body = {"requestId": f"fake-{next(self._counter)}", "timestamp": iso(self.clock()),
                "method": request.method, "path": request.path, "status": status,
                "issues": [{"title": title, "mRID": str(uuid.UUID(int=0))}]}  # fmt: skip
        answer = self._json(body, status)
        answer.headers.update(headers)
        return answer


def capped(cap_w: float) -> Points:
    """Grant the requested values, capped at `cap_w` with reason "2001" where capped."""

    def points(requested: Sequence[float]) -> list[dict[str, Any]]:
        return [{"position": i, "quantity": min(v, cap_w)} | ({"reason": "2001"} if v > cap_w else {})
                for i, v in enumerate(requested)]  # fmt: skip

    return points


def explicit(values: Mapping[int, float]) -> Points:
    """Grant exactly these position -> quantity points, in the order given (gaps and disorder allowed)."""
    return lambda _requested: [{"position": position, "quantity": q} for position, q in values.items()]


def _as_requested(requested: Sequence[float]) -> list[dict[str, Any]]:
    return [{"position": i, "quantity": v} for i, v in enumerate(requested)]


def _token_error(status: int, error: str) -> web.Response:
    body = {"error": error, "error_description": f"AADSTS: {error}", "error_codes": [7000215],
            "timestamp": "2024-01-09 13:30:00Z", "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4())}  # fmt: skip
    return web.json_response(body, status=status)


async def _json(request: web.Request) -> Any:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        return json.loads(await request.text())
    return None


async def _reset(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (the request has been handled)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    await asyncio.Event().wait()
    raise AssertionError  # unreachable: the handler is cancelled with its connection
