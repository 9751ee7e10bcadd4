"""Which MMS connections have completed their association; libiec61850 does not tell.

Its connection indication fires when a connection opens (at TCP accept), not when it associates. An ACSE
authenticator, though, runs at every association, and the security token it sets stays with the connection:
the password `Authenticator` sets its actor's index, and otherwise an accept-anyone authenticator sets 1. So
a connection is associated once its token is set; `poll()` looks at the tokens of the connections still
pending after every processing step. Everything here runs on the event-loop thread, and tells the
`ConnectionGuard` what it learns, including which connections `admit` refuses at their accept (with TLS:
connections that are no relay of the `TlsFront`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import structlog

from relevent.wan.mms.guard import ConnectionGuard
from relevent.wan.mms.lib import AcseAuthenticator, AuthParameter, ConnectionIndicationHandler, lib
from relevent.wan.mms.sockets import Peer, parse_peer

log = structlog.get_logger(__name__)

_ANONYMOUS_TOKEN = 1


class Associations:
    """The server's open connections by association state; keep this object as long as the server."""

    def __init__(
        self,
        server: int,
        guard: ConnectionGuard,
        *,
        accept_anyone: bool,
        admit: Callable[[Peer], bool] = lambda _: True,
    ) -> None:
        self._guard = guard
        self._admit = admit
        self._pending: dict[int, Peer | None] = {}  # ClientConnection -> its peer, not associated yet
        self._associated: dict[int, Peer | None] = {}
        self._indication = ConnectionIndicationHandler(self._on_indication)  # libiec61850 keeps the pointer
        lib.IedServer_setConnectionIndicationHandler(server, self._indication, None)
        self._authenticator = AcseAuthenticator(_accept_anyone) if accept_anyone else None
        if self._authenticator is not None:
            lib.IedServer_setAuthenticator(server, self._authenticator, None)

    @property
    def count(self) -> int:
        """The number of associated connections."""
        return len(self._associated)

    def poll(self) -> None:
        """Move the connections that associated since the last call; cheap (one call per pending one)."""
        for connection in [c for c in self._pending if lib.ClientConnection_getSecurityToken(c)]:
            peer = self._associated[connection] = self._pending.pop(connection)
            if peer is not None:
                self._guard.associated(peer)

    def _on_indication(self, _: int | None, connection: int | None, connected: bool, __: int | None) -> None:
        try:
            if connection is None:
                return
            if connected:
                peer = self._pending[connection] = _peer_of(connection)
                if peer is not None and not self._admit(peer):
                    log.warning("mms connection refused: no tls relay", peer=f"{peer[0]}:{peer[1]}")
                    self._guard.refuse(peer)
                return
            peer = self._pending.pop(connection, None) or self._associated.pop(connection, None)
            if peer is not None:
                self._guard.closed(peer)
        except BaseException:  # an exception must not reach libiec61850
            log.exception("mms connection indication failed")


def _peer_of(connection: int) -> Peer | None:
    text = (lib.ClientConnection_getPeerAddress(connection) or b"").decode(errors="replace")
    peer = parse_peer(text)
    if peer is None:  # the guard cannot match it to a socket: it will count as never associated
        log.error("mms connection with an unreadable peer address", peer=text)
    return peer


def _accept_anyone(
    _: int | None,
    __: ctypes._Pointer[AuthParameter],
    token: ctypes._Pointer[ctypes.c_void_p],
    ___: int | None,
) -> bool:
    token[0] = _ANONYMOUS_TOKEN
    return True
