"""`/api/forecast` and `/api/check`: the scheduler's own forecast and dry run over HTTP, for relevent-ctl.

Both answer from the engine (`Engine.forecast`, `Engine.check`), so a client never runs a second copy of
the scheduling rules. Neither changes anything. The HTTP port identifies nobody: a check applies the locks
and validation rules of the gateway, not the rights of a named actor (the MMS request itself meets those).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import structlog
from aiohttp import web

from relevent.obs.http import BadRequests
from relevent.refs import full_ref
from relevent.scheduler.commands import Actor, Operate, Rejected, Step, Write
from relevent.scheduler.engine import Engine

log = structlog.get_logger(__name__)

DEFAULT_HOURS = 24.0
MAX_HOURS = 31 * 24.0  # a month: the forecast is worked out while the loop waits
MAX_STEPS = 1000  # a whole schedule is ~105 steps
_STEP_FORMS = '{"write": REF, "value": V} or {"operate": REF, "value": BOOL}'


class BadRequestError(ValueError):
    """A request this API cannot answer; the message says why."""


def add_schedule_routes(
    app: web.Application, engine: Engine, bad_requests: BadRequests, clock: Callable[[], float] = time.time
) -> None:
    """Serve `GET /api/forecast?controller=REF[&hours=H]` and `POST /api/check` from `engine`."""

    def bad(route: str, request: web.Request, problem: BadRequestError) -> web.Response:
        return bad_requests.answer(route, request, str(problem))

    async def forecast(request: web.Request) -> web.Response:
        try:
            controller, hours = _forecast_query(engine, request.query)
        except BadRequestError as problem:
            return bad("forecast", request, problem)
        if controller is None:
            return web.json_response({"error": f"no controller {request.query['controller']!r}"}, status=404)
        now = clock()
        points = engine.forecast(controller, now, now + hours * 3600)
        document = {"controller": controller, "time": now, "points": [asdict(p) for p in points]}
        return web.json_response(document)

    async def check(request: web.Request) -> web.Response:
        try:
            steps = _steps(await request.json())
        except (BadRequestError, ValueError) as problem:  # ValueError: not JSON at all
            return bad("check", request, BadRequestError(str(problem)))
        results = engine.check(steps, Actor("http", request.remote or "unknown"))
        refusal = results[-1] if results and isinstance(results[-1], Rejected) else None
        if refusal is None:
            return web.json_response({"accepted": True, "refused": None})
        step = len(results) - 1
        return web.json_response({
            "accepted": False,
            "refused": {
                "step": step,
                "ref": steps[step].ref,
                "reason": refusal.reason.value,
                "message": refusal.message,
                "schd_ena_err": refusal.schd_ena_err,
            },
        })  # fmt: skip

    app.router.add_get("/api/forecast", forecast)
    app.router.add_post("/api/check", check)


def _forecast_query(engine: Engine, query: Any) -> tuple[str | None, float]:
    """The controller's full reference (None: unknown) and the hours of a forecast request."""
    if not query.get("controller"):
        raise BadRequestError("controller=REF is required")
    try:
        hours = float(query.get("hours", DEFAULT_HOURS))
    except ValueError:
        raise BadRequestError(f"hours={query['hours']!r} is not a number") from None
    if not 0 < hours <= MAX_HOURS:  # also NaN
        raise BadRequestError(f"hours must be above 0 and at most {MAX_HOURS:g}")
    full = full_ref(query["controller"], engine.model.ied_name)
    known = any(c.ref == full for c in engine.model.controllers)
    return (full if known else None), hours


def _steps(body: object) -> list[Step]:
    """`{"steps": [STEP, ...]}` (each one of `_STEP_FORMS`) as engine steps."""
    steps = body.get("steps") if isinstance(body, dict) else None
    if not isinstance(steps, list) or not 0 < len(steps) <= MAX_STEPS:
        raise BadRequestError(f'expected {{"steps": [...]}} with 1 to {MAX_STEPS} steps')
    return [_step(i, item) for i, item in enumerate(steps)]


def _step(index: int, item: object) -> Step:
    if isinstance(item, dict):
        ref, value = item.get("write", item.get("operate")), item.get("value")
        if isinstance(ref, str) and "write" in item and isinstance(value, bool | int | float | str):
            return Write(ref, value)  # NaN too: the rules judge it
        if isinstance(ref, str) and "operate" in item and isinstance(value, bool):
            return Operate(ref, value)
    raise BadRequestError(f"step {index}: expected {_STEP_FORMS}")
