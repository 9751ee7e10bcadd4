"""`/api/forecast` and `/api/check` served by aiohttp on a real port, answered by a real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from relevent.obs.health import Readiness
from relevent.obs.http import BadRequests, build_app
from relevent.obs.schedule_api import add_schedule_routes
from tests.scheduler.factory import BASE, ln, small_spec
from tests.scheduler.harness import Harness, start_engine

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")


Served = tuple[TestClient[Any, Any], Harness, CollectorRegistry]


def _values(h: Harness) -> dict[str, tuple[str, bool]]:
    """What the engine serves (their times move with the clock: left out)."""
    return {ref: (repr(item.value), item.quality_good) for ref, item in h.engine.snapshot().items()}


async def _no_status(window_s: float) -> bytes:
    return b"{}"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    h = start_engine(small_spec(reserve=True), tmp_path / "s.sqlite")
    registry = CollectorRegistry()
    bad = BadRequests(registry)
    app = build_app(Readiness(), registry, _no_status, bad)
    add_schedule_routes(app, h.engine, bad, clock=h.clock.now)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client, h, registry
    h.stop()


async def test_forecast_is_the_engine_s_own(served: Served) -> None:
    client, h, _ = served
    h.program(S1, values=[5.0, 6.0], intv=60, prio=10, starts=[BASE + 600])
    reply = await client.get("/api/forecast", params={"controller": "@Control/F_FSCC1", "hours": "1"})
    assert reply.status == 200
    document = await reply.json()
    now = document["time"]
    assert document["controller"] == FSCC
    own = [asdict(p) for p in h.engine.forecast(FSCC, now, now + 3600)]
    assert [p["time"] for p in document["points"]] == pytest.approx([p["time"] for p in own], abs=1.0)
    assert [{**p, "time": 0} for p in document["points"]] == [{**p, "time": 0} for p in own]
    assert [p["value"] for p in document["points"]] == [0.0, 5.0, 6.0, 0.0]


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({}, 400, "controller=REF is required"),
        ({"controller": FSCC, "hours": "soon"}, 400, "is not a number"),
        ({"controller": FSCC, "hours": "nan"}, 400, "hours must be above 0"),
        ({"controller": S1}, 404, f"no controller {S1!r}"),
    ],
)
async def test_a_bad_forecast_request_is_answered_with_why(
    served: Served, query: dict[str, str], status: int, error: str
) -> None:
    client, _, registry = served
    reply = await client.get("/api/forecast", params=query)
    assert reply.status == status
    assert error in (await reply.json())["error"]
    bad = registry.get_sample_value("relevent_http_bad_requests_total", {"route": "forecast"})
    assert bad == (1.0 if status == 400 else None)


async def test_check_answers_the_first_refusal_and_changes_nothing(
    served: Served,
) -> None:
    client, h, _ = served
    steps = [
        {"write": f"{S1}.ValASG001.setMag.f", "value": 1.0},
        {"write": f"{S1}.NumEntr.setVal", "value": 1},
        {"write": f"{S1}.SchdIntv.setVal", "value": 0},
        {"write": f"{S1}.StrTm01.setTm", "value": BASE + 5.0},
        {"operate": f"{S1}.EnaReq", "value": True},
    ]
    before = _values(h)
    reply = await client.post("/api/check", json={"steps": steps})
    assert (await reply.json()) == {
        "accepted": False,
        "refused": {
            "step": 4,
            "ref": f"{S1}.EnaReq",
            "reason": "value_invalid",
            "message": f"{S1} cannot be enabled: missing valid SchdIntv (it must be positive)",
            "schd_ena_err": 3,
        },
    }
    steps[2]["value"] = 60
    assert (await (await client.post("/api/check", json={"steps": steps})).json()) == {
        "accepted": True,
        "refused": None,
    }
    assert _values(h) == before


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"steps": []}',
        '{"steps": [{"write": 1, "value": 2}]}',
        '{"steps": [{"operate": "x"}]}',
    ],
)
async def test_a_malformed_check_is_refused_with_400_and_counted(
    served: Served, body: str
) -> None:
    client, _, registry = served
    reply = await client.post("/api/check", data=body)
    assert reply.status == 400
    assert (await reply.json())["error"]
    assert registry.get_sample_value("relevent_http_bad_requests_total", {"route": "check"}) == 1.0


async def test_the_status_window_is_one_of_the_pages_choices(served: Served) -> None:
    client, _, _ = served
    assert (await client.get("/api/status?window=5m")).status == 200
    refused = await client.get("/api/status?window=2d")
    assert refused.status == 400
    assert "5m, 1h, 24h, 7d" in (await refused.json())["error"]
