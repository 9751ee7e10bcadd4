"""OncePerTurn: the asks of one loop turn (or window) run the action once, after them; none without a loop.
Slices: long work lets the loop turn once a slice is used up, and only then."""

from __future__ import annotations

import asyncio

import pytest

from relevent.turns import OncePerTurn, Slices
from tests.loop_turns import counted_turns


def test_without_a_running_loop_each_ask_runs_at_once() -> None:
    runs: list[int] = []
    once = OncePerTurn(lambda: runs.append(1))
    once.ask()
    once.ask()
    assert runs == [1, 1]


async def test_asks_of_one_turn_run_once_at_its_end_and_flush_runs_it_early() -> None:
    runs: list[int] = []
    once = OncePerTurn(lambda: runs.append(len(runs)))
    for _ in range(3):
        once.ask()
    assert runs == []  # not inside the burst
    await asyncio.sleep(0)
    assert runs == [0]
    once.ask()
    once.flush()  # e.g. before closing what the action uses
    assert runs == [0, 1]
    await asyncio.sleep(0)  # the queued call finds nothing due
    assert runs == [0, 1]
    once.flush()  # nothing asked: nothing run
    assert runs == [0, 1]


@pytest.mark.looptime(start=0)
async def test_with_after_s_the_asks_of_that_long_run_once_when_it_ends() -> None:
    loop = asyncio.get_running_loop()
    runs: list[float] = []
    once = OncePerTurn(lambda: runs.append(loop.time()), after_s=0.05)
    once.ask()
    await asyncio.sleep(0.03)
    once.ask()  # within the window: gathered into the same run
    assert runs == []
    await asyncio.sleep(0.03)
    assert runs == [pytest.approx(0.05)]
    once.ask()
    await asyncio.sleep(0.06)
    assert runs == [pytest.approx(0.05), pytest.approx(0.11)]


async def _turns_during(steps: int, slices: Slices) -> int:
    """How often the loop turned while `steps` pieces of work each called `slices.step`."""
    async with counted_turns() as turns:
        for _ in range(steps):
            await slices.step()
        return turns()


async def test_a_used_up_slice_turns_the_loop_and_one_not_used_up_does_not() -> None:
    assert await _turns_during(5, Slices(0.0)) == 5  # every piece ends a slice
    assert await _turns_during(5, Slices(3600.0)) == 0  # one slice holds them all
