"""The guard's parts without libiec61850: peer spelling, finding accepted sockets, the verdicts, one check.

The sockets are real loopback connections of this process, accepted by a plain listener in the library's
place; the guard's clock is a fake, so no test waits for a timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from relevent.wan.mms.guard import ConnectionGuard, GuardSettings, Reason, overdue
from relevent.wan.mms.sockets import Peer, accepted, parse_peer, peer

SETTINGS = GuardSettings(association_timeout_s=1.0, tls_handshake_timeout_s=0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:40604", ("127.0.0.1", 40604)),
        ("[::1]:102", ("::1", 102)),
        ("[::ffff:10.0.0.1]:5", ("10.0.0.1", 5)),  # IPv4-mapped, as a dual-stack socket reports it
        ("[fe80::1%eth0]:7", ("fe80::1", 7)),
        ("", None),
        ("127.0.0.1", None),
        ("127.0.0.1:", None),
        ("127.0.0.1:x", None),
        ("[zz]:1", None),
        ("host.example:1", None),
    ],
)
def test_libiec61850_peer_addresses_parse_to_one_spelling(text: str, expected: Peer | None) -> None:
    assert parse_peer(text) == expected


def test_a_socket_peer_and_a_libiec61850_peer_match() -> None:
    assert peer("::ffff:127.0.0.1", 9) == parse_peer("127.0.0.1:9")


@pytest.mark.parametrize(
    ("age_s", "associated", "refused", "reason"),
    [
        (0.4, False, None, None),
        (1.1, False, None, "no_association"),
        (1e6, True, None, None),  # associated: never
        (0.0, False, "not_relayed", "not_relayed"),  # refused: at once
        (0.0, True, "actor_limit", "actor_limit"),  # even when it associated meanwhile
    ],
)
def test_overdue(age_s: float, associated: bool, refused: Reason | None, reason: Reason | None) -> None:
    assert overdue(age_s, associated=associated, refused=refused, settings=SETTINGS) == reason


def test_the_guard_polls_at_a_fifth_of_the_association_timeout_within_bounds() -> None:
    assert SETTINGS.poll_s == pytest.approx(0.2)
    assert GuardSettings(0.01).poll_s == 0.05
    assert GuardSettings(60.0).poll_s == 1.0


@contextmanager
def listener_with(clients: int) -> Iterator[tuple[int, list[socket.socket], list[socket.socket]]]:
    """A loopback listener (in the library's place), `clients` connections, and their accepted ends."""
    with ExitStack() as stack:
        server = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        port = server.getsockname()[1]
        outer = [stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(clients)]
        inner = [stack.enter_context(server.accept()[0]) for _ in range(clients)]
        yield port, outer, inner


def _peer(client: socket.socket) -> Peer:
    host, port = client.getsockname()
    return peer(host, port)


def test_accepted_finds_the_accepted_ends_only_and_releases_its_duplicates() -> None:
    with listener_with(2) as (port, outer, inner):
        with accepted(port) as found:
            assert sorted(c.peer for c in found) == sorted(_peer(c) for c in outer)
            held = [c.sock for c in found]
        assert all(sock.fileno() == -1 for sock in held)  # the duplicates are closed
        assert all(sock.fileno() >= 0 for sock in inner)  # the owner's descriptors are not


def test_shutting_down_a_duplicate_ends_the_connection_for_both_sides_but_leaves_the_descriptor() -> None:
    with listener_with(1) as (port, outer, inner):
        with accepted(port) as found:
            found[0].shut_down()
        outer[0].settimeout(5)
        assert outer[0].recv(1) == b""  # the client sees the close
        inner[0].settimeout(5)
        assert inner[0].recv(1) == b""  # the owner reads its end (libiec61850 then frees the slot)
        assert inner[0].fileno() >= 0


def _still_open(client: socket.socket) -> bool:
    client.setblocking(False)
    try:
        return client.recv(1) != b""
    except BlockingIOError:
        return True


def test_a_check_closes_overdue_and_refused_connections_once_and_keeps_the_associated_one() -> None:
    now = [100.0]
    closed: list[Reason] = []
    with listener_with(3) as (port, (keeper, refused, fresh), _):
        guard = ConnectionGuard(port, SETTINGS, on_close=closed.append, clock=lambda: now[0])
        guard.associated(_peer(keeper))
        guard.refuse(_peer(refused))
        guard.check()  # first seen at 100.0
        assert closed == ["not_relayed"]
        now[0] = 100.6
        guard.check()
        assert closed == ["not_relayed"]  # `fresh` is not overdue yet
        now[0] = 101.1
        guard.check()
        guard.check()  # the library has not closed them yet: not shut down or counted twice
        assert closed == ["not_relayed", "no_association"]
        assert _still_open(keeper)
        assert not _still_open(refused)
        assert not _still_open(fresh)


def test_a_closed_peer_is_forgotten() -> None:
    now = [0.0]
    closed: list[Reason] = []
    with listener_with(1) as (port, (client,), _):
        guard = ConnectionGuard(port, SETTINGS, on_close=closed.append, clock=lambda: now[0])
        guard.refuse(_peer(client))
        guard.associated(_peer(client))
        guard.closed(_peer(client))  # e.g. a port reused by a later connection must not inherit it
        guard.check()
        now[0] = 2.0
        guard.check()
        assert closed == ["no_association"]
