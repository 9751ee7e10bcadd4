"""One gateway per state directory and per port, both taken before the process talks to any device.

A second process with the same gateway id (a manual start beside the service) would take the running
gateway's broker session and send every device its own start-up outputs before finding its ports busy.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from relevent.errors import StartupError
from relevent.ports import address_family

LOCK_FILE = "gateway.lock"
RESERVED_BACKLOG = 128


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of `state_dir` for the block; a `StartupError` if another process holds it.

    The kernel drops the lock with the process, so a killed gateway never leaves a stale one behind.
    """
    path = state_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StartupError(f"cannot open the lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise StartupError(
                f"another relevent-gw (pid {holder}) runs on the state directory {state_dir}: "
                "this one stops before talking to any device"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # for the message above, in the next one
        yield
    finally:
        os.close(fd)


def reserve_port(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on `host:port` that keeps every other process off it until it is closed.

    It accepts nobody: clients wait in its queue and are reset when the service that owns the port closes
    it, just before binding the port itself; they reconnect at once. The queue is long, as a full one drops
    connection requests, which clients repeat only after a second or more.
    """
    try:
        return socket.create_server((host, port), family=address_family(host), backlog=RESERVED_BACKLOG)
    except OSError as exc:
        hint = " (ports below 1024 need CAP_NET_BIND_SERVICE)" if exc.errno == errno.EACCES else ""
        raise StartupError(f"cannot listen on {host}:{port} for {what}: {exc.strerror}{hint}") from None
