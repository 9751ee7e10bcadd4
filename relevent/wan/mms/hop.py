"""libiec61850's thread asks the event loop: a callback's work runs on the loop, its answer goes back.

libiec61850 serves MMS on a thread of its own, so reads never wait for the loop. The callbacks that decide
something (a write, an operate's check, an authentication, a connection opening or closing) act on state
the loop owns, so their work runs there while libiec61850's thread waits in the callback: the request, and
the pointers it handed over, stay valid until the callback returns.

- Fails closed: work the loop has not begun within `wait_s` (a loop stopping or wedged) is dropped and the
  callback gets its refusal. Work already running is waited for, so an accepted write is never answered
  as refused.
- Keeps out of the scheduler's way: work waits out the quiet window around the next instant (`quiet_for`).
- `settle` runs after each piece of work (the model mirror catches up), so the client's next request reads
  what its write changed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import structlog

from relevent.timing import MMS_CALLBACK_WAIT_S
from relevent.wan.mms.pacing import TimeToNext, quiet_for

log = structlog.get_logger(__name__)

T = TypeVar("T")
_CHECK_S = 0.05  # how often a waiting callback looks whether the server is closing


class LoopHop:
    """Runs callback work on one event loop, for libiec61850's thread (or at once on the loop's own)."""

    def __init__(self, wait_s: float = MMS_CALLBACK_WAIT_S) -> None:
        self._wait_s = wait_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._closed = False
        self.time_to_next: TimeToNext = lambda: None
        self.settle: Callable[[], None] = lambda: None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run work on `loop`; call on its thread before libiec61850's thread starts."""
        self._loop, self._loop_thread = loop, threading.get_ident()

    def close(self) -> None:
        """Refuse all work from now on; a callback waiting for the loop returns its refusal."""
        self._closed = True

    def run(self, work: Callable[[], T], refusal: T) -> T:
        """`work()` on the loop, then `settle()`; `refusal` if it was not begun in time or raised."""
        try:
            return self._run(work, refusal)
        except BaseException:  # nothing may reach libiec61850: fail closed
            log.exception("mms callback failed; refused")
            return refusal

    def _run(self, work: Callable[[], T], refusal: T) -> T:
        loop = self._loop
        if self._closed or loop is None:
            return refusal
        if threading.get_ident() == self._loop_thread:  # libiec61850 called back inside a call of ours
            return self._settled(work)
        done: Future[T] = Future()
        loop.call_soon_threadsafe(self._begin, work, done)
        deadline = time.monotonic() + self._wait_s
        while time.monotonic() < deadline and not self._closed:
            try:
                return done.result(_CHECK_S)
            except TimeoutError:
                continue
        if done.cancel():
            log.error("mms callback refused: the event loop did not take it in time", wait_s=self._wait_s)
            return refusal
        return done.result()  # begun meanwhile: its answer, whatever it is

    def _begin(self, work: Callable[[], T], done: Future[T]) -> None:
        # One quiet window at most: an instant that stays due (a wedged timer) must not starve the work.
        if (wait_s := quiet_for(self.time_to_next())) > 0:
            asyncio.get_running_loop().call_later(wait_s, self._start, work, done)
        else:
            self._start(work, done)

    def _start(self, work: Callable[[], T], done: Future[T]) -> None:
        if not done.set_running_or_notify_cancel():
            return
        try:
            done.set_result(self._settled(work))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which answers with it
            done.set_exception(exc)

    def _settled(self, work: Callable[[], T]) -> T:
        try:
            return work()
        finally:
            self.settle()
