"""A libiec61850 client (SWIG bindings) in a separate, spawned process, driven over a pipe.

It must not share the server's process: SWIG calls hold the GIL, so a blocking client call would stall
the server's Python callbacks until it times out. Requests are plain method calls on `_Client`; the
parent awaits them in a thread so the server's event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

Value = bool | int | float | str | datetime | tuple[Any, ...] | None
ANSWER_TIMEOUT_S = 30.0  # far above any request's own timeout (3 s); a hang fails the test, not the suite


class _Client:
    """The child side: one IedConnection and the operations the tests need, with plain-data results."""

    def __init__(self) -> None:
        import pyiec61850.pyiec61850 as iec  # noqa: PLC0415 - only the child process loads the library

        self.iec = iec
        self.con: Any = None

    def connect(self, host: str, port: int) -> None:
        """Connect; retry when the first request fails (see `_connect_once`)."""
        for _ in range(5):
            if self._connect_once(host, port):
                return
        raise ConnectionError(f"cannot connect to {host}:{port}")

    def _connect_once(self, host: str, port: int) -> bool:
        # libiec61850's client loses about every second first connection of a process: connect succeeds,
        # the first request fails with CONNECTION_LOST (also against a threaded server). A probe request
        # detects it; a fresh connection then works.
        iec = self.iec
        self.close()
        self.con = iec.IedConnection_create()
        iec.IedConnection_setRequestTimeout(self.con, 3000)
        _, err = iec.IedConnection_connect(self.con, host, port)
        if err == iec.IED_ERROR_OK:
            _, err = iec.IedConnection_getLogicalDeviceList(self.con)
        return bool(err == iec.IED_ERROR_OK)

    def close(self) -> None:
        if self.con is not None:
            self.iec.IedConnection_close(self.con)
            self.iec.IedConnection_destroy(self.con)
            self.con = None

    def _names(self, result: tuple[Any, int]) -> list[str]:
        iec = self.iec
        names, err = result
        if err != iec.IED_ERROR_OK:
            raise RuntimeError(f"directory request failed: IedClientError {err}")
        found = []
        element = iec.LinkedList_getNext(names)
        while element:
            found.append(iec.toCharP(element.data))
            element = iec.LinkedList_getNext(element)
        iec.LinkedList_destroy(names)
        return found

    def logical_devices(self) -> list[str]:
        return self._names(self.iec.IedConnection_getLogicalDeviceList(self.con))

    def logical_nodes(self, ld: str) -> list[str]:
        return self._names(self.iec.IedConnection_getLogicalDeviceDirectory(self.con, ld))

    def data_objects(self, ln_ref: str) -> list[str]:
        iec = self.iec
        directory = iec.IedConnection_getLogicalNodeDirectory(self.con, ln_ref, iec.ACSI_CLASS_DATA_OBJECT)
        return self._names(directory)

    def read(self, ref: str, fc: str) -> tuple[Value, int]:
        """(value, IedClientError) of a read; structures come back as tuples."""
        iec = self.iec
        value, err = iec.IedConnection_readObject(self.con, ref, getattr(iec, f"IEC61850_FC_{fc}"))
        if err != iec.IED_ERROR_OK:
            return None, int(err)
        try:
            return self._decode(value), 0
        finally:
            iec.MmsValue_delete(value)

    def _decode(self, value: Any) -> Value:  # noqa: PLR0911 - one return per MMS type
        iec = self.iec
        kind = iec.MmsValue_getType(value)
        if kind == iec.MMS_BOOLEAN:
            return bool(iec.MmsValue_getBoolean(value))
        if kind == iec.MMS_INTEGER:
            return int(iec.MmsValue_toInt64(value))
        if kind == iec.MMS_UNSIGNED:
            return int(iec.MmsValue_toUint32(value))
        if kind == iec.MMS_FLOAT:
            return float(iec.MmsValue_toDouble(value))
        if kind in {iec.MMS_VISIBLE_STRING, iec.MMS_STRING}:
            return str(iec.MmsValue_toString(value))
        if kind == iec.MMS_UTC_TIME:
            return datetime.fromtimestamp(iec.MmsValue_getUtcTimeInMs(value) / 1000, tz=UTC)
        if kind == iec.MMS_BIT_STRING:
            return int(iec.MmsValue_getBitStringAsInteger(value))
        if kind in {iec.MMS_STRUCTURE, iec.MMS_ARRAY}:
            size = iec.MmsValue_getArraySize(value)
            return tuple(self._decode(iec.MmsValue_getElement(value, i)) for i in range(size))
        return f"<MMS type {kind}>"

    def write(self, ref: str, fc: str, value: float | str) -> int:
        """Write one attribute; return the IedClientError (0 = accepted)."""
        iec = self.iec
        if isinstance(value, bool):
            mms = iec.MmsValue_newBoolean(value)
        elif isinstance(value, int):
            mms = iec.MmsValue_newIntegerFromInt32(value)
        elif isinstance(value, float):
            mms = iec.MmsValue_newFloat(value)
        else:
            mms = iec.MmsValue_newVisibleString(value)
        try:
            _, err = iec.IedConnection_writeObject(self.con, ref, getattr(iec, f"IEC61850_FC_{fc}"), mms)
        finally:
            iec.MmsValue_delete(mms)
        return int(err)

    def operate(self, ref: str, ctl_val: bool, test: bool = False) -> tuple[bool, int, int]:
        """Operate a control; return (accepted, IedClientError, AddCause of LastApplError)."""
        iec = self.iec
        control = iec.ControlObjectClient_create(ref, self.con)
        if control is None:
            raise RuntimeError(f"no control object {ref}")
        try:
            iec.ControlObjectClient_setTestMode(control, test)
            mms = iec.MmsValue_newBoolean(ctl_val)
            accepted = bool(iec.ControlObjectClient_operate(control, mms, 0))
            iec.MmsValue_delete(mms)
            appl = iec.ControlObjectClient_getLastApplError(control)
            return accepted, int(iec.ControlObjectClient_getLastError(control)), int(appl.addCause)
        finally:
            iec.ControlObjectClient_destroy(control)

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
