"""SIGUSR1 logs each task's chain of awaits: where a live process waits."""

from __future__ import annotations

import asyncio
import os

from structlog.testing import capture_logs

from relevent.obs.task_dump import DUMP_EVENT, SIGNAL, await_chain, install_task_dump, remove_task_dump


async def _inner(gate: asyncio.Event) -> None:
    await gate.wait()


async def _outer(gate: asyncio.Event) -> None:
    await _inner(gate)


async def test_the_chain_runs_from_the_task_to_the_future_it_waits_for() -> None:
    gate = asyncio.Event()
    task = asyncio.create_task(_outer(gate))
    await asyncio.sleep(0)
    chain = list(await_chain(task.get_coro()))
    gate.set()
    await task
    assert [line.rsplit(" ", 1)[-1] for line in chain[:3]] == ["_outer", "_inner", "Event.wait"]
    assert "Future" in chain[-1]  # the innermost awaitable is no coroutine


async def test_the_signal_logs_every_task_once() -> None:
    loop = asyncio.get_running_loop()
    gate = asyncio.Event()
    task = asyncio.create_task(_outer(gate), name="stuck")
    install_task_dump(loop)
    try:
        with capture_logs() as logs:
            os.kill(os.getpid(), SIGNAL)
            async with asyncio.timeout(5):
                while not logs:  # noqa: ASYNC110 - the handler runs in a later turn; no event to await
                    await asyncio.sleep(0.01)
    finally:
        remove_task_dump(loop)
        gate.set()
        await task
    dumped = {entry["task"]: entry["awaits"] for entry in logs if entry["event"] == DUMP_EVENT}
    assert len(dumped) == len(logs)  # one line per task, nothing else
    assert any(line.endswith(" _inner") for line in dumped["stuck"])
