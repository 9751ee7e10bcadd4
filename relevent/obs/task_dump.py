"""SIGUSR1 logs where every asyncio task waits: the await chain of a live process that seems stuck.

A fault handler's stack of the main thread only shows the event loop; the chain of `await`s is what
names the coroutine that does not return.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from typing import Any

import structlog

log = structlog.get_logger(__name__)
SIGNAL = signal.SIGUSR1
DUMP_EVENT = "task waits"


def install_task_dump(loop: asyncio.AbstractEventLoop) -> None:
    """On `SIGNAL`, log one line per task of `loop` with its await chain, outermost first."""
    loop.add_signal_handler(SIGNAL, _dump, loop)


def remove_task_dump(loop: asyncio.AbstractEventLoop) -> None:
    """Undo `install_task_dump`."""
    loop.remove_signal_handler(SIGNAL)


def _dump(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        log.warning(DUMP_EVENT, task=task.get_name(), awaits=list(await_chain(task.get_coro())))


def await_chain(awaitable: Any) -> Iterator[str]:
    """`file:line function` of each coroutine or generator in the chain, then what the innermost awaits."""
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:  # a future, a finished coroutine or a C awaitable: the end of the chain
            yield repr(awaitable)[:200]
            return
        yield f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_qualname}"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
