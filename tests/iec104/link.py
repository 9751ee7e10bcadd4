"""A c104 SCADA for tests and benches, and bringing its link up (c104's client now and then stays muted)."""

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import c104


class Peer(Protocol):
    """A SCADA built around one c104 client and its connection to the outstation."""

    client: c104.Client
    connection: c104.Connection


P = TypeVar("P", bound=Peer)


def link_up(build: Callable[[], P], wait_s: float, attempts: int = 5) -> P | None:
    """Build a peer, start its client and wait `wait_s` for the link; retry with a fresh peer.

    c104 2.2's client now and then never reports its connection OPEN, also when the wire shows the link
    started (STARTDT confirmed, frames flowing): on a loaded machine about one connect in four, and after a
    refused first connect (the outstation not yet listening) more often. A new client then connects
    normally. The peer whose link opened; None when none did.
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


class SetpointScada:
    """A c104 client with one short-float setpoint point at `ioa`."""

    def __init__(self, port: int, ioa: int) -> None:
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=5000)
        # no interrogation or clock sync at the start: a setpoint SCADA needs neither
        connection = self.client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
        assert connection is not None
        self.connection = connection
        station = connection.add_station(common_address=1)
        assert station is not None
        point = station.add_point(io_address=ioa, type=c104.Type.C_SE_NC_1)
        assert point is not None
        self.point = point

    def send(self, value: float) -> bool:
        """Command `value`; blocks until the ACT_CON: whether it was positive."""
        self.point.value = value
        return bool(self.point.transmit(c104.Cot.ACTIVATION))
