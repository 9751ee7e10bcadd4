"""A libiec61850 client (relevent-ctl's, SWIG bindings) in a separate, spawned process, driven over a pipe.

It must not share the server's process: SWIG calls hold the GIL, so a blocking client call would stall
the server's Python callbacks until it times out. Requests are plain method calls on `_Client`; the
parent awaits them in a thread so the server's event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import pyiec61850.pyiec61850 as iec

# Importing the client is harmless in the server's process; only calling it there would stall the server.
from relevent.ctl.client import ClientSecurity, MmsClient, Scalar, Value
from relevent.ctl.errors import RefusedError, UnreachableError
from relevent.ctl.reports import Report, ReportSubscription

ANSWER_TIMEOUT_S = 30.0  # far above any request's own timeout (3 s); a hang fails the test, not the suite


class _Client:
    """The child side: relevent-ctl's libiec61850 connection, with error codes as results for the tests."""

    def __init__(self) -> None:
        self.client: MmsClient | None = None
        self.held: list[MmsClient] = []  # idle associations kept open (see `hold`)
        self.reports: list[Report] = []
        self.subscriptions: list[ReportSubscription] = []  # a dropped subscription stops delivering
        self._lock = threading.Lock()

    def connect(self, host: str, port: int, security: ClientSecurity | None = None) -> None:
        self.close()
        self.client = MmsClient(host, port, security=security)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        for held in self.held:
            held.close()
        self.held.clear()

    def hold(self, host: str, port: int, security: ClientSecurity | None, source: str, count: int) -> int:
        """Try `count` more associations from the local address `source`, keep them idle; how many held?"""

        class _FromSource(MmsClient):
            def _create(self) -> Any:
                con = super()._create()
                iec.IedConnection_setLocalAddress(con, source, 0)
                return con

        for _ in range(count):
            try:
                self.held.append(_FromSource(host, port, security=security))
            except UnreachableError:
                continue
        return sum(held.connected for held in self.held)

    @property
    def _con(self) -> MmsClient:
        if self.client is None:
            raise ConnectionError("not connected")
        return self.client

    def logical_devices(self) -> list[str]:
        return self._con.logical_devices()

    def logical_nodes(self, ld: str) -> list[str]:
        return self._con.logical_nodes(ld)

    def data_objects(self, ln_ref: str) -> list[str]:
        return self._con.data_objects(ln_ref)

    def read(self, ref: str, fc: str) -> tuple[Value, int]:
        """(value, IedClientError) of a read; structures come back as tuples."""
        try:
            return self._con.read(ref, fc), 0
        except RefusedError as refused:
            return None, _error(refused)

    def write(self, ref: str, fc: str, value: Scalar) -> int:
        """Write one attribute; return the IedClientError (0 = accepted)."""
        try:
            self._con.write(ref, fc, value)
        except RefusedError as refused:
            return _error(refused)
        return 0

    def operate(self, ref: str, ctl_val: bool, test: bool = False) -> tuple[bool, int, int]:
        """Operate a control; return (accepted, IedClientError, AddCause of LastApplError)."""
        try:
            self._con.operate(ref, ctl_val, test)
        except RefusedError as refused:
            add_cause = refused.refusal.add_cause
            return False, _error(refused), add_cause.value if add_cause else 0
        return True, 0, 0

    def subscribe(self, ld: str) -> list[str]:
        """Enable a free URCB of each automatic data set of `ld` (with GI); return the RCB references.

        Afterwards this connection only collects reports (see `ReportSubscription`): write on another.
        """
        subscription = ReportSubscription(self._con, ld, self._received)
        self.subscriptions.append(subscription)
        return subscription.rcbs

    def _received(self, report: Report) -> None:
        with self._lock:
            self.reports.append(report)

    def take_reports(self) -> list[Report]:
        """The reports received since the last call."""
        with self._lock:
            taken, self.reports = self.reports, []
        return taken

    def repeat_for(self, operation: str, args: tuple[Any, ...], seconds: float) -> tuple[int, list[str]]:
        """Run one operation for `seconds`; return how often, and the first failed results (soak tests)."""
        method = getattr(self, operation)
        count, failures = 0, list[str]()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            result = method(*args)
            count += 1
            # write: error code; read: (value, error); operate: (accepted, error, AddCause)
            if (result[1] if isinstance(result, tuple) else result) != 0 and len(failures) < 10:
                failures.append(repr(result))
        return count, failures

    def timed(self, operation: str, args: tuple[Any, ...], count: int) -> list[float]:
        """Run one operation `count` times; return each round trip in seconds (for benchmarks)."""
        method = getattr(self, operation)
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            method(*args)
            samples.append(time.perf_counter() - start)
        return samples


def _serve(pipe: Connection) -> None:
    client = _Client()
    while (request := pipe.recv()) is not None:
        method, args = request
        try:
            pipe.send(("ok", getattr(client, method)(*args)))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the test
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    client.close()


class IecClient:
    """The parent side: calls into the child process, awaited in a thread."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()

    def call_blocking(self, method: str, *args: Any) -> Any:
        """Run `method` in the child and return its result; raise RuntimeError with its failure."""
        self._pipe.send((method, args))
        if not self._pipe.poll(ANSWER_TIMEOUT_S):
            raise TimeoutError(f"iec client: no answer to {method} within {ANSWER_TIMEOUT_S} s")
        status, result = self._pipe.recv()
        if status != "ok":
            raise RuntimeError(f"iec client {method}: {result}")
        return result

    async def call(self, method: str, *args: Any) -> Any:
        """`call_blocking` without blocking the event loop (the server under test runs on it)."""
        return await asyncio.to_thread(self.call_blocking, method, *args)

    def close(self) -> None:
        self._pipe.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()


def _error(refused: RefusedError) -> int:
    """The IedClientError of a refused request (an MMS refusal always has one)."""
    assert refused.refusal.error is not None
    return refused.refusal.error.value
