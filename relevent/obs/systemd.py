"""systemd's notify protocol: READY, STATUS, WATCHDOG and STOPPING, without a libsystemd binding."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def sd_notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1") to $NOTIFY_SOCKET; False when not run by systemd or on failure."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address[0] == "@":  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("sd_notify failed", state=state, error=str(exc))
        return False
    return True


def watchdog_period() -> float | None:
    """Half the watchdog interval systemd expects pings in, or None when the watchdog is off for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None


async def run_watchdog(period: float, healthy: Callable[[], bool]) -> None:
    """Ping the watchdog every `period` seconds while `healthy()` holds; a wedged loop stops the pings."""
    while True:
        await asyncio.sleep(period)
        if healthy():
            sd_notify("WATCHDOG=1")
        else:
            log.error("watchdog withheld: the scheduler core is not healthy")
