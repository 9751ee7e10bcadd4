"""Support of the MMS integration tests: a real gateway process, its two kinds of clients, polling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from open61850.data import StructureData
from open61850.mms import MmsClient, ObjectName

from tests.daemon import Daemon, GatewayArgs, running
from tests.mms.iec_client import IecClient

HOST = "127.0.0.1"
LD = "DER_Scheduler_Control"
START_TIMEOUT_S = 30.0

T = TypeVar("T")


@contextmanager
def gateway(
    state_dir: Path, scl: Path | None = None, extra: tuple[str, ...] = ()
) -> Iterator[tuple[Daemon, GatewayArgs]]:
    """A `relevent-gw` process serving `scl` (the default model when None), ready for MMS clients.

    Its log is read all the time (into `daemon.lines`; so poll those, never `wait_for`): a full stdout
    pipe would block the gateway. `extra` are more command-line options (`--config FILE`).
    """
    args = GatewayArgs(state_dir, scl=scl, extra=extra)
    with running(args.argv()) as daemon:
        daemon.wait_for("gateway running", START_TIMEOUT_S)
        yield daemon, args
        assert daemon.proc.poll() is None, "the gateway died during the test"
        assert daemon.stop() == 0


@contextmanager
def iec_client(port: int) -> Iterator[IecClient]:
    """libiec61850's client in its own process, connected."""
    client = IecClient()
    try:
        client.call_blocking("connect", HOST, port)
        yield client
    finally:
        client.close()


@contextmanager
def open_client(port: int, on_report: Callable[[Any], None] | None = None) -> Iterator[MmsClient]:
    """open61850's pure-Python client, connected."""
    client = MmsClient.connect(HOST, port, on_information_report=on_report)
    try:
        yield client
    finally:
        client.close()


def poll(read: Callable[[], T], until: Callable[[T], bool], timeout_s: float, what: str) -> T:
    """Read every 20 ms until `until(value)` holds; fail with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout_s} s")
        time.sleep(0.02)


def open_value(client: MmsClient, item: str) -> Any:
    """The value of one leaf read with open61850 (`LN$FC$DO$DA`)."""
    data = client.read(ObjectName(item, LD))
    if isinstance(data, StructureData):
        return data
    return getattr(data, "value", data)
