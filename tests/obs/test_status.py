"""`/api/status` from a view kept current by the engine's events: no snapshot, no forecast recomputed while
no schedule changes, and the loop turning while a large document is rendered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from relevent.obs import status
from relevent.obs.status import StatusView
from relevent.scheduler.commands import Actor
from relevent.scheduler.intents import Intents
from relevent.scheduler.verdicts import NOW, UNTIL_CHANGED, ActorSlots, Intent, IntentFunction, Placed
from tests.scheduler.factory import BASE, ln, small_spec
from tests.scheduler.harness import start_engine

pytestmark = pytest.mark.looptime(start=0)

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")
DEVICES = [{"id": "bat1"}]


async def _document(view: StatusView) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(await view.render())
    return document


async def test_status_follows_the_engine_and_computes_no_forecast_while_no_schedule_changes(
    tmp_path: Path,
) -> None:
    h = start_engine(small_spec(reserve=True), tmp_path / "db")
    view = StatusView("gw1", h.engine, lambda _since: DEVICES, clock=h.clock.now)
    h.program(S1, values=[5.0, 6.0], intv=60, prio=10, starts=[BASE + 100])
    first = await _document(view)
    computed = h.engine.forecasts_computed
    await h.sleep_until(BASE + 130)
    running = await _document(view)
    await h.sleep_until(BASE + 170)
    later = await _document(view)
    assert h.engine.forecasts_computed == computed  # the schedule ran on: every forecast from the cache

    def row(document: dict[str, Any]) -> dict[str, Any]:
        return next(s for s in document["schedules"] if s["ref"] == S1)

    assert (row(first)["state"], row(first)["priority"], row(first)["entry"]) == (3, 10, 0)
    assert (row(running)["state"], row(running)["entry"]) == (4, 1)
    assert row(later)["entry"] == 2  # from the boundary's events, not from a read
    assert row(later) == {  # every column as the engine serves it
        "ref": S1, "reserve": False, "state": h.value(f"{S1}.SchdSt.stVal"),
        "priority": h.value(f"{S1}.SchdPrio.setVal"), "entry": h.value(f"{S1}.SchdEntr.stVal"),
        "owner": None,  # written by a SCADA, not placed by an actor's intent
    }  # fmt: skip
    [controller] = later["controllers"]
    assert (controller["ref"], controller["value"], controller["source"]) == (FSCC, 6.0, S1)
    assert controller["unit"] == "W"  # the factory's model declares no multiplier
    assert [(p["time"] - BASE, p["value"]) for p in controller["forecast"]] == [(170, 6.0), (220, 0.0)]
    assert later["gateway"]["time"] == BASE + 170
    assert later["devices"] == DEVICES

    h.disable(S1)  # a schedule changes: its controller's forecast is redone
    changed = await _document(view)
    assert h.engine.forecasts_computed == computed + 1
    assert [p["value"] for p in changed["controllers"][0]["forecast"]] == [0.0]
    assert row(changed)["state"] == 1


async def test_the_loop_turns_while_a_document_is_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start_engine(small_spec(count=8, reserve=True), tmp_path / "db")
    view = StatusView("gw1", h.engine, lambda _since: [])
    monkeypatch.setattr(status, "SLICE_S", 0.0)  # a slice per item, as if each took the whole budget
    turns = 0

    def tick() -> None:
        nonlocal turns
        turns += 1
        if not rendered.done():
            asyncio.get_running_loop().call_soon(tick)

    rendered = asyncio.ensure_future(view.render())
    asyncio.get_running_loop().call_soon(tick)
    await rendered
    assert turns >= 9  # one controller and nine schedules, each in its own slice


async def test_a_slot_an_intent_holds_shows_its_actor_as_owner(tmp_path: Path) -> None:
    h = start_engine(small_spec(), tmp_path / "db")
    view = StatusView("gw1", h.engine, lambda _since: DEVICES, clock=h.clock.now)
    intents = Intents(h.engine, {"dso": ActorSlots((60, 69), (S1,))}, now=h.clock.now, devices={})
    placed = intents.place(Intent(Actor("iec104", "192.0.2.7:2404", "dso"), "k", FSCC, IntentFunction.ACT_POW,
                                  NOW, UNTIL_CHANGED, (5.0,)))  # fmt: skip
    assert isinstance(placed, Placed)
    owners = {s["ref"]: s["owner"] for s in (await _document(view))["schedules"]}
    assert owners[S1] == "dso"
    assert owners[ln("F_FSCH02")] is None


async def test_the_timeline_holds_the_actual_output_back_and_the_forecast_ahead_for_the_window(
    tmp_path: Path,
) -> None:
    h = start_engine(small_spec(reserve=True), tmp_path / "db")
    view = StatusView("gw1", h.engine, lambda _since: DEVICES, clock=h.clock.now)
    h.program(S1, values=[5.0, 6.0], intv=60, prio=10, starts=[BASE + 100])
    await h.sleep_until(BASE + 400)  # the schedule ran 100..220, the reserve's 0 since
    document = json.loads(await view.render(300.0))
    [controller] = document["controllers"]
    assert document["gateway"]["window"] == 300.0
    past = [(p["time"] - BASE, p["value"]) for p in controller["history"]]
    assert past == [(100, 5.0), (160, 6.0), (220, 0.0)]  # clipped to the window's start: 400 - 300
    assert [(p["time"] - BASE, p["value"]) for p in controller["forecast"]] == [(400, 0.0)]
    narrow = json.loads(await view.render(60.0))["controllers"][0]["history"]
    assert [(p["time"] - BASE, p["value"]) for p in narrow] == [(340, 0.0)]  # in force since 220
