"""The intent API's fast path (`place_soon`): applied and published first, answered once stored.

A real engine and a real SQLite store whose commit the test holds (a gate) or fails; the commit runs on
the engine's writer thread, so these tests run in real loop time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from relevent.scheduler.commands import ACCEPTED, Actor, Rejected
from relevent.scheduler.intents import Intents
from relevent.scheduler.verdicts import (
    NOW,
    UNTIL_CHANGED,
    ActorSlots,
    Intent,
    IntentFunction,
    IntentHandled,
    Placed,
    RefusalReason,
    Refused,
    Verdict,
)
from tests.db import opened

from .factory import ln, small_spec
from .harness import FaultyStore, Harness, faulty_store, start_engine

pytestmark = pytest.mark.looptime(False)

S1, S2 = ln("F_FSCH01"), ln("F_FSCH02")
FSCC = ln("F_FSCC1")
DSO = Actor("iec104", "192.0.2.7:2404", "dso")
WAIT_S = 5.0


class Answers:
    """The verdicts `place_soon` gave, and an event per answer."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []
        self.given = asyncio.Event()

    def __call__(self, verdict: Verdict) -> None:
        self.verdicts.append(verdict)
        self.given.set()

    async def next(self) -> Verdict:
        await asyncio.wait_for(self.given.wait(), WAIT_S)
        self.given.clear()
        return self.verdicts[-1]


def setup(db: Path) -> tuple[Harness, FaultyStore, Intents, list[IntentHandled]]:
    h = start_engine(small_spec(4, reserve=True), db)
    store = faulty_store(h)
    api = Intents(h.engine, {"dso": ActorSlots((60, 69), (S1,))}, now=h.clock.now, devices={})
    announced: list[IntentHandled] = []
    api.subscribe(announced.append)
    return h, store, api, announced


def now_until_changed(value: float) -> Intent:
    return Intent(DSO, "ioa-3001", "@Control/F_FSCC1", IntentFunction.ACT_POW, NOW, UNTIL_CHANGED, (value,))


def stored_keys(path: Path) -> dict[str, str]:
    with opened(path) as raw:
        return dict(raw.execute("SELECT ref, key FROM intent_key"))


async def test_the_output_changes_before_the_store_commits_and_the_answer_after(db: Path) -> None:
    h, store, api, announced = setup(db)
    store.gate.clear()
    answers = Answers()
    api.place_soon(now_until_changed(4.0), answers)
    assert h.engine.output(FSCC).value == 4.0  # type: ignore[union-attr]
    assert [o.value for o in h.recorder.outputs(FSCC)][-1] == 4.0  # published: the devices hear of it now
    assert answers.verdicts == []  # neither answered nor audited before it is durable
    assert announced == []
    assert stored_keys(store.path) == {}
    store.gate.set()
    assert await answers.next() == Placed(S1, 60, (S1,))
    assert stored_keys(store.path) == {S1: "dso/ioa-3001"}
    assert [(a.command, a.verdict) for a in announced] == [("intent", answers.verdicts[0])]
    assert [c.result for c in h.recorder.commands if c.ref == S1] == [ACCEPTED]


async def test_a_failed_store_puts_the_change_back_and_refuses(db: Path) -> None:
    h, store, api, announced = setup(db)
    api.place_soon(now_until_changed(4.0), answers := Answers())
    assert await answers.next() == Placed(S1, 60, (S1,))
    h.recorder.clear()
    store.fail = True
    api.place_soon(now_until_changed(9.0), answers)
    refused = await answers.next()
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.UNAVAILABLE
    assert [o.value for o in h.recorder.outputs(FSCC)] == [9.0, 4.0]  # sent at once, then taken back
    assert h.engine.output(FSCC).value == 4.0  # type: ignore[union-attr]
    assert h.value(f"{S1}.ValASG001.setMag.f") == 4.0
    assert h.engine.intent_keys() == {S1: "dso/ioa-3001"}
    assert announced[-1].verdict == refused  # the audit has the refusal, not the placement
    assert isinstance(h.recorder.commands[-1].result, Rejected)
    store.fail = False
    api.place_soon(now_until_changed(9.0), answers)
    assert await answers.next() == Placed(S1, 60, (S1,))  # the store is back: so is the fast path


async def test_a_failed_first_placement_frees_its_slot_again(db: Path) -> None:
    h, store, api, _ = setup(db)
    store.fail = True
    api.place_soon(now_until_changed(4.0), answers := Answers())
    assert isinstance(await answers.next(), Refused)
    assert h.engine.intent_keys() == {}
    assert h.engine.output(FSCC).source == ln("F_Res_FSCH01")  # type: ignore[union-attr]
    assert h.value(f"{S1}.SchdSt.stVal") == 1


async def test_any_other_command_first_waits_for_the_pending_store(db: Path) -> None:
    h, store, api, _ = setup(db)
    store.gate.clear()
    api.place_soon(now_until_changed(4.0), answers := Answers())
    opener = threading.Timer(0.05, store.gate.set)  # the loop is blocked in the next command meanwhile
    opener.start()
    try:
        result = h.write(f"{S1}.SchdPrio.setVal", 61)  # waits for the pending commit, then builds on it
    finally:
        opener.join()
    assert answers.verdicts == [Placed(S1, 60, (S1,))]  # answered before the next command was
    assert result == ACCEPTED
    assert stored_keys(store.path) == {S1: "dso/ioa-3001"}


async def test_stopping_stores_what_is_pending(db: Path) -> None:
    h, store, api, _ = setup(db)
    store.gate.clear()
    api.place_soon(now_until_changed(4.0), answers := Answers())
    threading.Timer(0.05, store.gate.set).start()
    h.engine.stop()
    assert answers.verdicts == [Placed(S1, 60, (S1,))]
    assert stored_keys(store.path) == {S1: "dso/ioa-3001"}


async def test_a_refusal_before_the_engine_is_answered_at_once(db: Path) -> None:
    _, _, api, announced = setup(db)
    api.place_soon(replace(now_until_changed(4.0), target="@Control/nowhere"), answers := Answers())
    assert [type(v) for v in answers.verdicts] == [Refused]
    assert [a.verdict for a in announced] == answers.verdicts


async def test_a_placement_made_by_an_answer_is_stored_before_the_next_command_too(db: Path) -> None:
    h = start_engine(small_spec(4, reserve=True), db)
    store = faulty_store(h)
    api = Intents(h.engine, {"dso": ActorSlots((60, 69), (S1, S2))}, now=h.clock.now, devices={})
    second = Answers()

    def then_another(verdict: Verdict) -> None:  # e.g. an adapter that places a follow-up on its answer
        first.append(verdict)
        api.place_soon(replace(now_until_changed(2.0), key="ioa-3002", rel_priority=1), second)

    first: list[Verdict] = []
    store.gate.clear()
    api.place_soon(now_until_changed(4.0), then_another)
    threading.Timer(0.05, store.gate.set).start()
    assert h.write(f"{S1}.SchdPrio.setVal", 61) == ACCEPTED  # settles the first, then the one it placed
    assert first == [Placed(S1, 60, (S1,))]
    assert second.verdicts == [Placed(S2, 61, (S2,))]
    assert stored_keys(store.path) == {S1: "dso/ioa-3001", S2: "dso/ioa-3002"}


async def test_reads_do_not_wait_for_the_pending_store(db: Path) -> None:
    h, store, api, _ = setup(db)
    store.gate.clear()
    api.place_soon(now_until_changed(4.0), answers := Answers())
    began = time.monotonic()
    assert h.value(f"{S1}.ValASG001.setMag.f") == 4.0  # the applied change, read while its commit waits
    assert h.engine.output(FSCC).value == 4.0  # type: ignore[union-attr]
    assert time.monotonic() - began < 1.0  # not the gate's seconds
    store.gate.set()
    assert await answers.next() == Placed(S1, 60, (S1,))
