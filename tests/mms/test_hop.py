"""libiec61850's thread hands callback work to the loop: answered, bounded, failing closed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from relevent.timing import QUIET_AFTER_S
from relevent.wan.mms.hop import LoopHop

T = TypeVar("T")
REFUSED = "refused"


async def from_thread(hop: LoopHop, work: Callable[[], T], refusal: T) -> T:
    """`hop.run` as libiec61850's thread calls it: from a thread of its own, the loop free meanwhile."""
    return await asyncio.to_thread(hop.run, work, refusal)


def bound(wait_s: float = 5.0) -> LoopHop:
    hop = LoopHop(wait_s)
    hop.bind(asyncio.get_running_loop())
    return hop


async def test_work_runs_on_the_loop_and_its_answer_goes_back_after_the_settle() -> None:
    hop = bound()
    seen: list[str] = []
    hop.settle = lambda: seen.append("settled")
    loop_thread = threading.get_ident()

    def work() -> str:
        seen.append("work")
        return "on the loop" if threading.get_ident() == loop_thread else "elsewhere"

    assert await from_thread(hop, work, REFUSED) == "on the loop"
    assert seen == ["work", "settled"]


async def test_work_the_loop_has_not_begun_in_time_is_refused_and_never_runs() -> None:
    hop = bound(wait_s=0.1)
    ran: list[bool] = []
    answers: list[object] = []
    caller = threading.Thread(target=lambda: answers.append(hop.run(lambda: ran.append(True), None)))
    caller.start()
    caller.join(5)  # holds the loop until the caller has its answer
    assert answers == [None]
    await asyncio.sleep(0.01)  # the loop's turns: the dropped work stays dropped
    assert ran == []


async def test_work_begun_before_the_wait_ran_out_is_answered_not_refused() -> None:
    hop = bound(wait_s=0.1)

    def slow() -> str:
        time.sleep(0.3)  # longer than the wait, on the loop
        return "accepted"

    assert await from_thread(hop, slow, REFUSED) == "accepted"


async def test_closing_refuses_new_work_and_releases_a_waiting_callback() -> None:
    hop = bound(wait_s=60)
    answers: list[object] = []
    caller = threading.Thread(target=lambda: answers.append(hop.run(lambda: "ran", REFUSED)))
    caller.start()
    caller.join(0.1)  # the loop held: the caller is waiting for it (or, late, sees the close at once)
    hop.close()
    caller.join(5)  # far less than the caller's wait
    assert answers == [REFUSED]
    assert await from_thread(hop, lambda: "ran", REFUSED) == REFUSED


async def test_work_that_raises_is_refused() -> None:
    def broken() -> str:
        raise RuntimeError("broken")

    assert await from_thread(bound(), broken, REFUSED) == REFUSED


async def test_a_call_on_the_loops_own_thread_runs_at_once() -> None:
    hop = bound()
    assert hop.run(lambda: "at once", REFUSED) == "at once"


async def test_an_unbound_hop_refuses() -> None:
    assert await from_thread(LoopHop(), lambda: "ran", REFUSED) == REFUSED


async def test_work_waits_out_the_quiet_window_of_an_instant() -> None:
    hop = bound()
    instant = time.monotonic() + 0.003
    hop.time_to_next = lambda: instant - time.monotonic()
    began = await from_thread(hop, time.monotonic, 0.0)
    assert began >= instant + QUIET_AFTER_S
