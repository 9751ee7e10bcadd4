"""`/api/live?window=`: the status page's live feed, a WebSocket carrying only what changed.

Once a second a connection gets one message: the gateway's head, readiness and upstream side always
(they are small), of each list (controllers, schedules, devices) the items whose JSON changed since the
last message and, when keys came or went, the new order. The first message holds everything.
Connections asking for the same window within a tick share one rendering, so ten open pages cost the
loop one. A WebSocket rather than server-sent events: headless Chromium, which tests the page, holds
the page's load while an event stream is open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from relevent.obs.health import Readiness
from relevent.obs.http import BadRequests
from relevent.obs.status import DEFAULT_WINDOW, WINDOWS_S, Sections
from relevent.timing import SLICE_S
from relevent.turns import Slices

PERIOD_S = 1.0


class SharedSections:
    """One rendering per window and tick, however many connections ask for it."""

    def __init__(self, render: Callable[[float], Awaitable[Sections]], period_s: float = PERIOD_S) -> None:
        self._render = render
        self._period_s = period_s
        self._latest: dict[float, tuple[float, asyncio.Task[Sections]]] = {}

    async def get(self, window_s: float) -> Sections:
        """The sections of `window_s`, rendered at most half a period ago."""
        now = time.monotonic()
        held = self._latest.get(window_s)
        if held is None or now - held[0] > self._period_s / 2:
            held = (now, asyncio.ensure_future(self._render(window_s)))
            self._latest[window_s] = held
        return await asyncio.shield(held[1])


class Sent:
    """What one connection was sent: each list's order and items, to send only changes."""

    def __init__(self) -> None:
        self.orders: dict[str, list[str]] = {}
        self.items: dict[str, dict[str, str]] = {}

    async def delta(self, sections: Sections, ready: str) -> str:
        """The event's JSON: head, readiness, upstream, and per list its changed items (and new order).

        Compared and joined in `SLICE_S` slices: a first message holds every item, a megabyte at 100
        devices.
        """
        slices = Slices(SLICE_S)
        lists = []
        for name, items in sections.lists.items():
            known = self.items.setdefault(name, {})
            changed = []
            for key, item in items:
                if known.get(key) != item:
                    changed.append(f"{json.dumps(key)}:{item}")
                    known[key] = item
                await slices.step()
            order = [key for key, _ in items]
            part = [f'"items":{{{",".join(changed)}}}']
            if order != self.orders.get(name):
                part.append(f'"order":{json.dumps(order)}')
                self.orders[name] = order
                for gone in known.keys() - set(order):
                    del known[gone]
            lists.append(f'"{name}":{{{",".join(part)}}}')
        return (
            f'{{"gateway":{sections.head},"ready":{ready},"upstream":{sections.upstream},'
            f'"lists":{{{",".join(lists)}}}}}'
        )


def add_live_routes(
    app: web.Application, sections: SharedSections, readiness: Readiness, bad: BadRequests
) -> None:
    """Serve `GET /api/live?window=` as a WebSocket of status changes, until the client leaves."""

    async def live(request: web.Request) -> web.StreamResponse:
        window = request.query.get("window", DEFAULT_WINDOW)
        if window not in WINDOWS_S:
            return bad.answer("live", request, f"window is one of {', '.join(WINDOWS_S)}")
        socket = web.WebSocketResponse(heartbeat=30.0)
        await socket.prepare(request)
        # The page sends nothing, but its close must be read to end the feed at once.
        closing = asyncio.create_task(_until_closed(socket))
        sent = Sent()
        try:
            while not closing.done():
                checks = readiness.snapshot()
                ready = json.dumps({"ready": all(checks.values()), "checks": checks})
                event = await sent.delta(await sections.get(WINDOWS_S[window]), ready)
                try:
                    await socket.send_str(event)
                except ConnectionResetError:  # the page went away without a close
                    break
                await asyncio.wait({closing}, timeout=PERIOD_S)
        finally:
            closing.cancel()
        return socket

    app.router.add_get("/api/live", live)


async def _until_closed(socket: web.WebSocketResponse) -> None:
    async for _ in socket:  # whatever a page sends is ignored
        pass

