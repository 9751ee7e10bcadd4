"""The live feed sends everything first, then only the items that changed, and one rendering per tick."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from relevent.obs.health import Readiness
from relevent.obs.http import BadRequests
from relevent.obs.live import Sent, SharedSections, add_live_routes
from relevent.obs.status import Sections
from tests.loop_turns import counted_turns

HEAD = '{"id": "gw1"}'


def sections(**lists: dict[str, Any]) -> Sections:
    encoded = {name: [(key, json.dumps(item)) for key, item in part.items()] for name, part in lists.items()}
    return Sections(HEAD, "{}", encoded)


async def test_the_first_message_holds_everything_then_only_changes() -> None:
    sent = Sent()
    first = json.loads(await sent.delta(sections(devices={"a": {"w": 1}, "b": {"w": 2}}), "true"))
    assert first["lists"]["devices"] == {"items": {"a": {"w": 1}, "b": {"w": 2}}, "order": ["a", "b"]}
    assert first["gateway"] == {"id": "gw1"}
    assert first["ready"] is True
    same = json.loads(await sent.delta(sections(devices={"a": {"w": 1}, "b": {"w": 2}}), "true"))
    assert same["lists"]["devices"] == {"items": {}}
    changed = json.loads(await sent.delta(sections(devices={"a": {"w": 1}, "b": {"w": 3}}), "true"))
    assert changed["lists"]["devices"] == {"items": {"b": {"w": 3}}}
    gone = json.loads(await sent.delta(sections(devices={"b": {"w": 3}}), "true"))
    assert gone["lists"]["devices"] == {"items": {}, "order": ["b"]}
    back = json.loads(await sent.delta(sections(devices={"a": {"w": 1}, "b": {"w": 3}}), "true"))
    assert back["lists"]["devices"] == {"items": {"a": {"w": 1}}, "order": ["a", "b"]}  # sent again


async def test_a_long_message_is_built_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("relevent.obs.live.SLICE_S", 0.0)  # every item its own slice
    async with counted_turns() as turns:
        built = await Sent().delta(sections(devices={f"d{i}": {"w": i} for i in range(50)}), "true")
    assert len(json.loads(built)["lists"]["devices"]["items"]) == 50
    assert turns() >= 49  # the loop turned between the items


async def test_connections_share_one_rendering_per_tick() -> None:
    renders = []

    async def render(window_s: float) -> Sections:
        renders.append(window_s)
        await asyncio.sleep(0)
        return sections(devices={})

    shared = SharedSections(render)
    await asyncio.gather(shared.get(300.0), shared.get(300.0), shared.get(3600.0))
    assert sorted(renders) == [300.0, 3600.0]


async def test_the_route_streams_deltas_and_refuses_an_unknown_window() -> None:
    ticks = iter(range(1000))

    async def render(_window_s: float) -> Sections:
        return sections(controllers={"c": {"v": 1}}, devices={"d": {"tick": next(ticks)}})

    app = web.Application()
    readiness = Readiness()
    readiness.add("ok", lambda: True)
    add_live_routes(app, SharedSections(render, period_s=0.0), readiness, BadRequests(CollectorRegistry()))
    async with TestClient(TestServer(app)) as client:
        refused = await client.get("/api/live?window=2w")
        assert refused.status == 400
        socket = await client.ws_connect("/api/live?window=5m")
        first, second = json.loads(await socket.receive_str()), json.loads(await socket.receive_str())
        await socket.close()
    assert first["lists"]["controllers"]["items"] == {"c": {"v": 1}}
    assert second["lists"]["controllers"] == {"items": {}}  # unchanged: not sent again
    assert list(second["lists"]["devices"]["items"]) == ["d"]
    assert first["ready"] == {"ready": True, "checks": {"ok": True}}
