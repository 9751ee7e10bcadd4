"""Bringing a c104 client's link up: c104's client now and then stays muted on a fresh connect."""

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import c104


class Peer(Protocol):
    """A SCADA built around one c104 client and its connection to the outstation."""

    client: c104.Client
    connection: c104.Connection


P = TypeVar("P", bound=Peer)


def link_up(build: Callable[[], P], wait_s: float, attempts: int = 3) -> P | None:
    """Build a peer, start its client and wait `wait_s` for the link; retry with a fresh peer.

    On a fresh connect c104 2.2's client sometimes never sends STARTDT (TESTFRs follow, the link never
    opens), while a new client then connects normally. The peer whose link opened; None when none did.
    """
    for _ in range(attempts):
        peer = build()
        peer.client.start()
        deadline = time.monotonic() + wait_s
        while peer.connection.state != c104.ConnectionState.OPEN and time.monotonic() < deadline:
            time.sleep(0.05)
        if peer.connection.state == c104.ConnectionState.OPEN:
            return peer
        peer.client.stop()
    return None
