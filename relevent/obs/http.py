"""The operator's HTTP endpoint: status page `/`, `/api/status`, `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from relevent.obs.health import Readiness
from relevent.obs.status import DEFAULT_WINDOW, WINDOWS_S

log = structlog.get_logger(__name__)


STATUS_PAGE = Path(__file__).parent / "static" / "status.html"
SHUTDOWN_S = 1.0
SUMMARY_MARK = "<!--summary-->"  # where the page takes the server-rendered essentials


class BadRequests:
    """Answers a malformed API request with 400 and why, logs and counts it (by route)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counter = Counter(
            "relevent_http_bad_requests_total", "malformed requests to the HTTP API, by route", ["route"],
            registry=registry,
        )  # fmt: skip

    def answer(self, route: str, request: web.Request, problem: str) -> web.Response:
        """The 400 answer to `request` on `route`."""
        self._counter.labels(route).inc()
        log.warning("http request refused", route=route, peer=request.remote, problem=problem[:200])
        return web.json_response({"error": problem}, status=400)


def build_app(
    readiness: Readiness,
    registry: CollectorRegistry,
    status: Callable[[float], Awaitable[bytes]],
    bad: BadRequests,
    summary: Callable[[bool], str] = lambda _ready: "",
) -> web.Application:
    """The app: `/`, `/api/status?window=` (`status` renders it), `/healthz`, `/readyz`, `/metrics`."""
    page = STATUS_PAGE.read_text(encoding="utf-8")

    async def index(_: web.Request) -> web.Response:
        essentials = summary(all(readiness.snapshot().values()))  # for a browser without JavaScript
        return web.Response(text=page.replace(SUMMARY_MARK, essentials), content_type="text/html")

    async def api_status(request: web.Request) -> web.Response:
        window = request.query.get("window", DEFAULT_WINDOW)
        if window not in WINDOWS_S:
            return bad.answer("status", request, f"window is one of {', '.join(WINDOWS_S)}")
        return web.Response(body=await status(WINDOWS_S[window]), content_type="application/json")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = readiness.snapshot()
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


class HttpEndpoint:
    """Serves `build_app` on a host and port until cancelled."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        # Open status pages hold live feeds: a stop waits for them this long, not aiohttp's minute.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_S)
        self._host = host
        self._port = port
        self.bound_port = 0

    async def start(self) -> None:
        """Bind the socket; raise OSError when the address is taken."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("http listening", host=self._host, port=self.bound_port)

    async def serve(self) -> None:
        """Keep serving until the task is cancelled, then release the socket."""
        try:
            await asyncio.Event().wait()
        finally:
            await self._runner.cleanup()
