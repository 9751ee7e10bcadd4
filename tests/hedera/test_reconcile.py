"""Reconciling with HEDERA: an uncertain POST is adopted, never repeated; a restart settles what changed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from relevent.demo.hedera_server import FakeSchedule, Script, capped
from relevent.wan.hedera.codec import schedule_request
from relevent.wan.hedera.store import POSTING
from tests.hedera.conftest import EXPORT_MRID, IMPORT_MRID, SLOTS, Rig, Rigs
from tests.scheduler.factory import BASE

pytestmark = pytest.mark.looptime(start=0)

START = BASE + 3600
GRANT_W = 4200.0


async def until(condition: Callable[[], bool], limit: float = 600.0) -> None:
    """Wait (in loop time) until `condition` holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - the fake records calls; it has no event to await
            await asyncio.sleep(0.1)


def posts(rig: Rig) -> int:
    return len(rig.fake.calls_to("post"))


async def test_a_reset_post_whose_pending_answer_has_no_period_is_adopted_by_its_creation_time(
    rigs: Rigs,
) -> None:
    rig = await rigs()
    rig.fake.pending_ties = False  # HEDERA's Pending answer without inter-ties, so without the period
    rig.fake.script(Script(polls=2))  # the reconciling read counts as one
    rig.fake.reset("post")
    rig.request([GRANT_W], start=START)
    accepted = await rig.published.wait_for("accepted")
    [schedule] = rig.fake.schedules.values()
    assert posts(rig) == 1
    assert accepted["hedera_schedule"] == schedule.id
    assert rig.published.states("r1") == ["received", "submitted", "pending", "accepted"]
    assert ("post", "adopted") in [(e.command, e.result) for e in rig.audit]
    assert [row.phase for row in rig.store.schedules()] == ["grant"]  # the placeholder was replaced


async def test_two_schedules_without_period_are_told_apart_once_hedera_shows_them(rigs: Rigs) -> None:
    rig = await rigs(delete_scope="own")
    rig.fake.pending_ties = False
    rig.fake.script(Script(polls=None), mrid=EXPORT_MRID)  # another client's, pending without period
    rig.fake.script(Script(polls=2), mrid=IMPORT_MRID)
    body = schedule_request(EXPORT_MRID, "E", START, 900, [1.0])
    await rig.lifecycle._client.post_schedule(body, rig.h.clock.now() + 60)
    rig.fake.reset("post")
    rig.request([GRANT_W], start=START)
    accepted = await rig.published.wait_for("accepted")
    mine = next(s for s in rig.fake.schedules.values() if s.mrid == IMPORT_MRID)
    assert accepted["hedera_schedule"] == mine.id
    assert posts(rig) == 2  # the other client's and the own, never a second own one
    assert rig.slot_values(SLOTS[0], 1) == [4.2]


async def test_a_post_hedera_did_not_store_is_posted_again_after_reconciling(rigs: Rigs) -> None:
    rig = await rigs(delete_scope="own")
    rig.fake.script(Script(polls=0))
    rig.fake.fail("post", 500)  # a server error: stored or not is unknown
    rig.request([GRANT_W], start=START)
    await rig.published.wait_for("accepted")
    assert [c.status for c in rig.fake.calls_to("post")] == [500, 201]
    lists = [c.at for c in rig.fake.calls_to("list")]
    assert rig.fake.calls_to("post")[0].at <= lists[0] <= rig.fake.calls_to("post")[1].at
    assert len(rig.fake.schedules) == 1


async def test_a_reset_post_not_yet_readable_is_read_again_not_posted_again(rigs: Rigs) -> None:
    rig = await rigs(delete_scope="own")
    rig.fake.not_found_window_s = 8  # 404 for a moment after the POST
    rig.fake.script(Script(polls=0))
    rig.fake.reset("post")
    rig.request([GRANT_W], start=START)
    await rig.published.wait_for("accepted")
    assert posts(rig) == 1
    assert 404 in [c.status for c in rig.fake.calls_to("get")]


async def test_a_post_unanswered_at_a_restart_is_adopted_not_posted_again(rigs: Rigs) -> None:
    rig = await rigs(delete_scope="own")
    rig.fake.script(Script(polls=1))
    rig.fake.reset("post")
    rig.fake.hang("list")  # the gateway stops while it reconciles
    rig.request([GRANT_W], start=START)
    await until(lambda: bool(rig.fake.calls_to("list")))
    assert [row.phase for row in rig.store.schedules()] == [POSTING]
    await rigs.end(rig)
    rig.fake.clear()
    again = await rigs(rig.h, delete_scope="own")
    accepted = await again.published.wait_for("accepted")
    [schedule] = rig.fake.schedules.values()
    assert (accepted["id"], accepted["hedera_schedule"]) == ("r1", schedule.id)
    assert again.published.states("r1") == ["submitted", "accepted"]
    assert posts(rig) == 1


async def test_a_post_that_never_arrived_before_a_restart_is_failed_not_posted_again(rigs: Rigs) -> None:
    rig = await rigs(delete_scope="own")
    rig.fake.hang("post")
    rig.fake.pending_ties = False
    rig.request([GRANT_W], start=START)
    await until(lambda: bool(rig.fake.calls_to("post")))
    await rigs.end(rig)
    rig.fake.clear()
    other = schedule_request(EXPORT_MRID, "E", START, 900, [1.0])  # created long after: not the POST's
    await rig.h.sleep_until(rig.h.clock.now() + 600)
    again = await rigs(rig.h, delete_scope="own")
    await again.lifecycle._client.post_schedule(other, rig.h.clock.now() + 60)
    failed = await again.published.wait_for("failed")
    assert failed["id"] == "r1"
    assert "ask again" in failed["message"]
    assert posts(rig) == 2  # the hung one and the other client's
    assert again.store.schedules() == []


async def pending_then_stopped(rigs: Rigs) -> tuple[Rig, FakeSchedule]:
    """A rig whose request is pending at HEDERA when its lifecycle stops (the gateway is down)."""
    rig = await rigs()
    rig.fake.script(Script(polls=None))
    rig.request([GRANT_W], start=START)
    await rig.published.wait_for("pending")
    [mine] = rig.fake.schedules.values()
    await rigs.end(rig)
    return rig, mine


def accept(schedule: FakeSchedule) -> None:
    schedule.state = "Accepted"
    schedule.points = [{"position": i, "quantity": v} for i, v in enumerate(schedule.requested)]


def decline(schedule: FakeSchedule) -> None:
    schedule.state, schedule.message = "Declined", "no capacity in this period"


def cancel(schedule: FakeSchedule) -> None:
    schedule.state = "Cancelled"


@pytest.mark.parametrize(
    ("change", "outcome", "message"),
    [
        (accept, "accepted", None),
        (decline, "declined", "no capacity in this period"),
        (cancel, "cancelled", "HEDERA answered Cancelled"),
        (None, "failed", "HEDERA no longer knows the schedule"),
    ],
)
async def test_a_request_decided_while_the_gateway_was_down_is_settled_at_the_restart(
    rigs: Rigs, change: Callable[[FakeSchedule], None] | None, outcome: str, message: str | None
) -> None:
    rig, mine = await pending_then_stopped(rigs)
    client = rig.lifecycle._client
    for k in range(12):  # another client's live schedules: the start-up list has two pages
        body = schedule_request(EXPORT_MRID, "E", START + 86400 + k * 900, 900, [1.0])
        await client.post_schedule(body, rig.h.clock.now() + 60)
    if change is None:
        del rig.fake.schedules[mine.id]
    else:
        change(mine)
    await rig.h.sleep_until(rig.h.clock.now() + 400)  # past the decision timeout
    restart = rig.h.clock.now()
    again = await rigs(rig.h)
    reply = await again.published.wait_for(outcome)
    assert (reply["id"], reply["hedera_schedule"]) == ("r1", mine.id)
    assert reply["message"] == message
    assert [c.query["page"] for c in rig.fake.calls_to("list") if c.at >= restart] == [["0"], ["1"]]
    assert rig.fake.calls_to("delete") == []
    assert [row.phase for row in again.store.schedules()] == (["grant"] if change is accept else [])
    if change is accept:
        assert again.slot_values(SLOTS[0], 1) == [4.2]


async def test_a_request_still_pending_past_its_timeout_at_the_restart_is_deleted(rigs: Rigs) -> None:
    rig, mine = await pending_then_stopped(rigs)
    await rig.h.sleep_until(rig.h.clock.now() + 400)
    again = await rigs(rig.h)
    await again.published.wait_for("timeout")
    assert mine.state == "Cancelled"


async def test_a_grant_revised_while_the_gateway_was_down_is_rewritten_at_the_restart(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=0))
    rig.request([GRANT_W] * 4, start=START)
    await rig.published.wait_for("accepted")
    [mine] = rig.fake.schedules.values()
    await rigs.end(rig)
    mine.points = capped(2000.0)(mine.requested)
    again = await rigs(rig.h)
    await until(lambda: again.slot_values(SLOTS[0], 4) == [2.0] * 4)
    await again.h.sleep_until(START + 1)
    assert again.output() == pytest.approx(2.0)
    assert not again.lifecycle.fallback_active
