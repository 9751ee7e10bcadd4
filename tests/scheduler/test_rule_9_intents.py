"""Spec section 9: intents placed, replaced by key, chained and cancelled by the core (`Intents`).

A real engine on fake time and a real SQLite store; each intent is one engine command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from relevent.scheduler.commands import Actor
from relevent.scheduler.intents import Intents
from relevent.scheduler.policy import SchedulePolicy
from relevent.scheduler.store import SqliteStore
from relevent.scheduler.values import INT32_MAX
from relevent.scheduler.verdicts import (
    NOW,
    UNTIL_CHANGED,
    ActorSlots,
    Cancelled,
    Intent,
    IntentFunction,
    IntentHandled,
    Placed,
    RefusalReason,
    Refused,
)

from .factory import BASE, ln, reference_like_spec, small_spec
from .harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

S1, S2, S3, S4 = (ln(f"F_FSCH0{i}") for i in range(1, 5))
FSCC = ln("F_FSCC1")
DSO = Actor("iec104", "192.0.2.7:2404", "dso")
CPO = Actor("ocpp", "cpo-x", "cpo")
BANDS = {"dso": ActorSlots((60, 69), (S1, S2, S3)), "cpo": ActorSlots((20, 39), (S4,))}


def intents(h: Harness, bands: dict[str, ActorSlots] | None = None) -> tuple[Intents, list[IntentHandled]]:
    api = Intents(h.engine, BANDS if bands is None else bands, now=h.clock.now, devices={})
    answered: list[IntentHandled] = []
    api.subscribe(answered.append)
    return api, answered


def intent(*values: Any, key: str = "ioa-100", **fields: Any) -> Intent:
    given: dict[str, Any] = {"actor": DSO, "key": key, "target": "@Control/F_FSCC1",
                             "function": IntentFunction.ACT_POW, "start": BASE + 60, "interval_s": 60,
                             "values": values} | fields  # fmt: skip
    return Intent(**given)


def schedule(h: Harness, ref: str) -> tuple[object, ...]:
    """(SchdSt, NumEntr, SchdIntv, SchdPrio, StrTm01, the first NumEntr values) of one schedule."""
    entries = h.value(f"{ref}.NumEntr.setVal")
    assert isinstance(entries, int)
    values = [h.value(f"{ref}.ValASG{i:03d}.setMag.f") for i in range(1, min(entries, 10) + 1)]
    names = ("SchdSt.stVal", "NumEntr.setVal", "SchdIntv.setVal", "SchdPrio.setVal", "StrTm01.setTm")
    return (*(h.value(f"{ref}.{name}") for name in names), values)


async def test_an_intent_is_placed_in_a_free_slot_of_the_actor_at_its_band_and_runs(db: Path) -> None:
    h = start_engine(small_spec(4, reserve=True), db)
    api, answered = intents(h)
    verdict = api.place(intent(1.0, 2.0, rel_priority=3))
    assert verdict == Placed(S1, 63, (S1,))
    assert schedule(h, S1) == (3, 2, 60, 63, BASE + 60, [1.0, 2.0])
    assert [(c.command, c.ref) for c in h.recorder.commands] == [("program", S1)]  # one engine command
    assert [(a.command, a.key, a.verdict) for a in answered] == [("intent", "ioa-100", verdict)]
    await h.sleep_until(BASE + 200)
    assert h.recorder.timeline(FSCC) == [
        (60, 1.0, "F_FSCH01"), (120, 2.0, "F_FSCH01"), (180, 0.0, "F_Res_FSCH01")
    ]  # fmt: skip


async def test_a_later_intent_with_the_same_key_replaces_it_in_its_slot_another_key_takes_the_next(
    db: Path,
) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h)
    api.place(intent(1.0))
    assert api.place(intent(7.0, 8.0, start=BASE + 120)) == Placed(S1, 60, (S1,))
    assert schedule(h, S1) == (3, 2, 60, 60, BASE + 120, [7.0, 8.0])
    assert api.place(intent(5.0, key="ioa-101")) == Placed(S2, 60, (S2,))
    assert api.held(DSO, "ioa-100") == (S1,)
    assert api.held(DSO, "ioa-101") == (S2,)


async def test_cancel_ends_the_intent_and_frees_its_slot(db: Path) -> None:
    h = start_engine(small_spec(4, reserve=True), db)
    api, answered = intents(h)
    api.place(intent(4.0, 5.0, start=NOW))
    assert h.engine.output(FSCC).value == 4.0  # type: ignore[union-attr]
    assert api.cancel(DSO, "ioa-100") == Cancelled((S1,))
    assert h.value(f"{S1}.SchdSt.stVal") == 1
    assert h.engine.output(FSCC).source == ln("F_Res_FSCH01")  # type: ignore[union-attr]
    assert api.held(DSO, "ioa-100") == ()
    assert api.cancel(DSO, "ioa-100") == Cancelled(())  # nothing left: cancelled already
    assert [a.command for a in answered] == ["intent", "cancel", "cancel"]


async def test_values_beyond_one_slot_are_chained_over_consecutive_slots_without_a_gap(db: Path) -> None:
    h = start_engine(small_spec(4, reserve=True), db)
    api, _ = intents(h)
    values = tuple(float(i) for i in range(1, 16))  # 15 values, 10 per slot
    assert api.place(intent(*values)) == Placed(S1, 60, (S1, S2))
    assert schedule(h, S1)[1:5] == (10, 60, 60, BASE + 60)
    assert schedule(h, S2) == (3, 5, 60, 60, BASE + 60 + 600, [11.0, 12.0, 13.0, 14.0, 15.0])
    assert [(c.command, c.ref) for c in h.recorder.commands] == [("program", S1), ("program", S2)]
    await h.sleep_until(BASE + 60 + 900 + 1)
    timeline = h.recorder.timeline(FSCC)
    assert [value for _, value, _ in timeline] == [*values, 0.0]  # each value once, no gap at the link
    assert timeline[10] == (660, 11.0, "F_FSCH02")
    # Shorter again: the link no longer needed is disabled in the same command.
    h.recorder.commands.clear()
    assert api.place(intent(1.0, start=BASE + 2000)) == Placed(S1, 60, (S1,))
    assert h.value(f"{S2}.SchdSt.stVal") == 1
    assert api.held(DSO, "ioa-100") == (S1,)
    assert len({c.timestamp for c in h.recorder.commands}) == 1


async def test_start_now_joins_at_entry_one_at_once_and_chains_from_the_same_second(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h)
    await h.sleep_until(BASE + 10.25)
    assert api.place(intent(*[float(i) for i in range(12)], start=NOW)) == Placed(S1, 60, (S1, S2))
    assert h.value(f"{S1}.StrTm01.setTm") == BASE + 10  # the command's whole second, no now() + epsilon
    assert h.value(f"{S1}.SchdSt.stVal") == 4
    assert h.value(f"{S1}.SchdEntr.stVal") == 1
    assert h.value(f"{S2}.StrTm01.setTm") == BASE + 10 + 600
    assert h.recorder.timeline(FSCC)[-1] == (10.25, 0.0, "F_FSCH01")


async def test_until_changed_is_one_entry_held_for_the_hold_or_the_longest_interval(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h, {"dso": ActorSlots((60, 69), (S1,)), "cpo": ActorSlots((20, 39), (S2,), hold_s=3600)})
    assert api.place(intent(9.0, start=NOW, interval_s=UNTIL_CHANGED)) == Placed(S1, 60, (S1,))
    assert h.value(f"{S1}.SchdIntv.setVal") == INT32_MAX
    assert api.place(intent(3.0, actor=CPO, start=NOW, interval_s=UNTIL_CHANGED)) == Placed(S2, 20, (S2,))
    assert h.value(f"{S2}.SchdIntv.setVal") == 3600
    refused = api.place(intent(1.0, 2.0, start=NOW, interval_s=UNTIL_CHANGED))
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.OUT_OF_RANGE


@pytest.mark.parametrize(("rel", "prio"), [(0, 60), (4, 64), (9, 69), (500, 69), (-7, 60)])
async def test_the_relative_priority_maps_into_the_actors_band_clamped(db: Path, rel: int, prio: int) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h)
    assert api.place(intent(1.0, rel_priority=rel)) == Placed(S1, prio, (S1,))
    assert h.value(f"{S1}.SchdPrio.setVal") == prio


async def test_a_slot_holding_a_live_intent_of_another_key_is_not_free_an_ended_one_is(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h, {"dso": ActorSlots((60, 69), (S1, S2))})
    api.place(intent(1.0, key="a"))
    api.place(intent(1.0, key="b"))
    refused = api.place(intent(1.0, key="c"))
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.NO_FREE_SLOT
    await h.sleep_until(BASE + 121)  # both ran their one minute and ended
    assert api.place(intent(2.0, key="c", start=BASE + 300)) == Placed(S1, 60, (S1,))
    assert api.held(DSO, "a") == ()


def _refusal(verdict: object) -> tuple[RefusalReason, int | None]:
    assert isinstance(verdict, Refused), verdict
    return verdict.reason, verdict.schd_ena_err


@pytest.mark.parametrize(
    ("fields", "values", "reason", "code"),
    [
        ({"actor": Actor("iec104", "x", "nobody")}, (1.0,), RefusalReason.ACTOR_NOT_ALLOWED, None),
        ({"target": "@Control/Nope_FSCC1"}, (1.0,), RefusalReason.UNKNOWN_TARGET, None),
        ({"function": IntentFunction.ON_OFF}, (True,), RefusalReason.UNKNOWN_TARGET, None),
        ({}, (True,), RefusalReason.OUT_OF_RANGE, None),
        ({"interval_s": 0.5}, (1.0,), RefusalReason.OUT_OF_RANGE, None),
        ({}, (1e300,), RefusalReason.OUT_OF_RANGE, None),  # beyond FLOAT32
        ({}, (), RefusalReason.OUT_OF_RANGE, None),
        ({}, tuple(range(31)), RefusalReason.TOO_LONG, None),  # 3 slots of 10
        ({}, (math.nan,), RefusalReason.INVALID, 4),
        ({"start": BASE - 3600}, (1.0,), RefusalReason.INVALID, 6),  # its run is over
    ],
    ids=["actor", "target", "function", "type", "interval", "float32", "empty", "too_long", "nan", "over"],
)
@pytest.mark.parametrize("test", [False, True], ids=["real", "test"])  # a test intent: the same verdict
async def test_a_refused_intent_changes_nothing_and_is_audited(
    db: Path,
    fields: dict[str, Any],
    values: tuple[Any, ...],
    reason: RefusalReason,
    code: int | None,
    *,
    test: bool,
) -> None:
    h = start_engine(small_spec(4), db)
    api, answered = intents(h)
    before = h.engine.snapshot()
    verdict = api.place(intent(*values, test=test, **fields))
    assert _refusal(verdict) == (reason, code)
    assert h.engine.snapshot() == before
    assert [a.verdict for a in answered] == [verdict]
    assert api.held(DSO, "ioa-100") == ()


async def test_a_policy_lock_refuses_the_actor(db: Path) -> None:
    h = start_engine(small_spec(4), db, policies={S1: SchedulePolicy(control_locked=True)})
    api, _ = intents(h, {"dso": ActorSlots((60, 69), (S1,))})
    assert _refusal(api.place(intent(1.0))) == (RefusalReason.ACTOR_NOT_ALLOWED, None)


async def test_a_slot_of_the_actor_that_does_not_feed_the_target_is_not_used(db: Path) -> None:
    h = start_engine(reference_like_spec(), db)
    act, onoff = ln("ActPow_FSCH01"), ln("OnOff_FSCH01")
    api, _ = intents(h, {"dso": ActorSlots((60, 69), (act, onoff))})
    on = intent(True, target="@Control/OnOff_FSCC1", function=IntentFunction.ON_OFF)
    assert api.place(on) == Placed(onoff, 60, (onoff,))
    assert h.value(f"{onoff}.ValSPG001.setVal") is True
    wrong = intent(1.0, target="@Control/ActPow_FSCC1", function=IntentFunction.MAX_POW, key="k2")
    assert _refusal(api.place(wrong)) == (RefusalReason.UNKNOWN_TARGET, None)


async def test_a_device_binding_names_the_controller_of_the_function(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api = Intents(h.engine, BANDS, now=h.clock.now, devices={"bat1": {IntentFunction.ACT_POW: FSCC}})
    assert api.place(intent(1.0, target="bat1")) == Placed(S1, 60, (S1,))
    assert _refusal(api.place(intent(1.0, target="bat1", function=IntentFunction.MAX_POW))) == (
        RefusalReason.UNKNOWN_TARGET, None,
    )  # fmt: skip


async def test_a_test_intent_is_placed_on_paper_only(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api, answered = intents(h)
    before = h.engine.snapshot()
    assert api.place(intent(1.0, test=True)) == Placed(S1, 60, (S1,))
    assert h.engine.snapshot() == before
    assert h.recorder.commands == []
    assert len(answered) == 1


async def test_the_keys_survive_a_restart_with_their_schedules_in_one_transaction(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h)
    api.place(intent(*[float(i) for i in range(15)]))
    api.place(intent(3.0, key="ioa-101"))
    assert _stored_keys(db) == {S1: "dso/ioa-100", S2: "dso/ioa-100", S3: "dso/ioa-101"}
    h = h.restart()
    api, _ = intents(h)
    assert api.held(DSO, "ioa-100") == (S1, S2)
    assert api.place(intent(4.0, key="ioa-101", start=BASE + 90)) == Placed(S3, 60, (S3,))
    assert api.cancel(DSO, "ioa-100") == Cancelled((S1, S2))
    assert _stored_keys(db) == {S3: "dso/ioa-101"}


async def test_an_intent_before_the_scheduler_runs_is_refused_unavailable(db: Path) -> None:
    h = start_engine(small_spec(4), db)
    api, _ = intents(h)
    h.stop()
    assert _refusal(api.place(intent(1.0))) == (RefusalReason.UNAVAILABLE, None)


def _stored_keys(db: Path) -> dict[str, str]:
    store = SqliteStore(db)
    try:
        return dict(store.load().keys)
    finally:
        store.close()
