"""The MMS side's manners around scheduler instants: quiet windows and model updates in slices; reads that
never wait for the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from open61850.data import FloatData
from open61850.mms import MmsClient, ObjectName

from relevent.config import ServeMode
from relevent.scl.model import SclDocument
from relevent.timing import BURST_S, QUIET_AFTER_S, QUIET_BEFORE_S, SLICE_S
from relevent.wan.mms.pacing import Pacer, quiet_for
from tests.mms.support import HOST, LD, PolicyGate, running
from tests.mosquitto import wait_until

STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ahead", "quiet"),
    [
        (None, 0.0),
        (1.0, 0.0),
        (QUIET_BEFORE_S, 0.0),
        (0.004, 0.004 + QUIET_AFTER_S),  # just before an instant: until just after it
        (0.0, QUIET_AFTER_S),
        (-0.003, QUIET_AFTER_S - 0.003),  # the boundary's work is still running
        (-QUIET_AFTER_S, 0.0),  # the window is over, even if the instant is still due (a late timer)
        (-10.0, 0.0),
    ],
)
def test_requests_are_held_back_only_around_a_scheduler_instant(ahead: float | None, quiet: float) -> None:
    assert quiet_for(ahead) == pytest.approx(quiet)


def _slow(seen: list[object], cost_s: float) -> Callable[[object], None]:
    def apply(item: object) -> None:
        time.sleep(cost_s)  # the CPU an IedServer_update* call takes at a large site
        seen.append(item)

    return apply


def _broken_at_2(seen: list[int]) -> Callable[[int], None]:
    def apply(item: int) -> None:
        if item == 2:
            raise RuntimeError("broken")
        seen.append(item)

    return apply


async def test_items_are_applied_in_order_in_slices_that_let_the_loop_turn() -> None:
    seen: list[object] = []
    pacer: Pacer[object] = Pacer(_slow(seen, SLICE_S / 4))
    pacer.submit(range(20))
    asyncio.get_running_loop().call_soon(seen.append, "other work")
    assert pacer.pending == 20
    await wait_until(lambda: pacer.pending == 0, 5)
    assert [item for item in seen if item != "other work"] == list(range(20))
    assert 0 < seen.index("other work") < 10  # ran after the first slice, long before the last
    assert pacer.pending == 0


@pytest.mark.looptime(start=0)
async def test_no_slice_runs_from_just_before_an_instant_until_its_commands_have_left() -> None:
    loop = asyncio.get_running_loop()
    instant = loop.time() + 0.003  # the scheduler's next entry boundary, 3 ms ahead
    applied_at: list[float] = []
    pacer: Pacer[int] = Pacer(lambda _: applied_at.append(loop.time()), lambda: instant - loop.time())
    pacer.submit([1, 2, 3])
    await wait_until(lambda: pacer.pending == 0, 1)
    assert applied_at == [pytest.approx(instant + BURST_S, abs=1e-5)] * 3  # looptime keeps whole µs


async def test_an_item_that_raises_is_dropped_and_the_rest_are_applied() -> None:
    loop = asyncio.get_running_loop()
    failures: list[object] = []
    loop.set_exception_handler(lambda _, context: failures.append(context.get("exception")))
    seen: list[int] = []
    pacer: Pacer[int] = Pacer(_broken_at_2(seen))
    pacer.submit([1, 2, 3])
    await wait_until(lambda: pacer.pending == 0, 5)
    assert seen == [1, 3]
    assert [str(f) for f in failures] == ["broken"]


async def test_cancel_drops_what_is_queued() -> None:
    seen: list[object] = []
    pacer: Pacer[object] = Pacer(_slow(seen, SLICE_S))
    pacer.submit(range(10))
    await asyncio.sleep(0)  # one slice
    pacer.cancel()
    applied = len(seen)
    await asyncio.sleep(0.01)
    assert 0 < applied < 10
    assert len(seen) == applied
    assert pacer.pending == 0


async def test_drain_applies_everything_at_once_even_in_a_quiet_window() -> None:
    seen: list[int] = []
    pacer: Pacer[int] = Pacer(seen.append, lambda: 0.0)  # an instant due now: slices wait
    pacer.submit(range(5))
    pacer.drain()
    assert seen == list(range(5))
    assert pacer.pending == 0


async def test_after_an_item_that_raises_in_a_drain_the_rest_follow_in_slices() -> None:
    seen: list[int] = []
    pacer: Pacer[int] = Pacer(_broken_at_2(seen))
    pacer.submit([1, 2, 3])
    with pytest.raises(RuntimeError, match="broken"):
        pacer.drain()
    assert seen == [1]
    await wait_until(lambda: pacer.pending == 0, 5)
    assert seen == [1, 3]


@pytest.mark.parametrize(
    ("serve", "held_s", "answered_while_held"), [("thread", 5.0, True), ("loop", 0.3, False)]
)
async def test_reads_are_answered_while_the_loop_is_held_only_when_a_thread_serves(
    reference: SclDocument, serve: ServeMode, held_s: float, answered_while_held: bool
) -> None:
    async with running(reference, PolicyGate(), serve=serve) as server:
        server.update(f"{LD}/ActPow_FSCC1.ValMV.mag.f", 42.0, True, STAMP)
        client = await asyncio.to_thread(MmsClient.connect, HOST, server.settings.port)
        answers: list[object] = []
        answered = threading.Event()

        def read() -> None:
            answers.append(client.read(ObjectName("ActPow_FSCC1$MX$ValMV$mag$f", LD)))
            answered.set()

        try:
            reader = threading.Thread(target=read)
            reader.start()
            seen_while_held = answered.wait(held_s)  # holds the loop (not the GIL)
            await asyncio.to_thread(reader.join, 5)  # the loop free again: the loop-driven server answers
        finally:
            client.close()
    assert seen_while_held is answered_while_held
    assert answers == [FloatData(42.0)]
