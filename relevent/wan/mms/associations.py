"""Which MMS connections have completed their association, and which must go; libiec61850 does not tell.

Its connection indication fires when a connection opens (at TCP accept), not when it associates. An ACSE
authenticator, though, runs at every association, and the security token it sets stays with the connection:
the password `Authenticator` sets its actor's index (or a refusal's token), and otherwise an accept-anyone
authenticator sets 1. So a connection is associated once its token is an actor's; `poll()` looks at the
tokens of the connections still pending. Everything here runs on the event-loop thread (the indications
through a `LoopHop`, so a closing connection is forgotten before libiec61850 frees it), and tells the
`ConnectionGuard` what it learns and what it refuses:

- at accept: connections that `admit` refuses (with TLS: no relay of the `TlsFront`), from a host the
  `AuthThrottle` refuses, and those the `ConnectionAdmission` names (a host's connection limit, the free
  slot);
- at association: a failed authentication (counted by the throttle), and an association the
  `ConnectionAdmission` refuses (an actor's limit, the slots reserved for the priority actors).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import partial

import structlog

from relevent.wan.mms.admission import ConnectionAdmission
from relevent.wan.mms.guard import ConnectionGuard, Reason
from relevent.wan.mms.hop import LoopHop
from relevent.wan.mms.lib import AcseAuthenticator, AuthParameter, ConnectionIndicationHandler, lib
from relevent.wan.mms.security import REFUSED_CREDENTIAL, REFUSED_LIMIT
from relevent.wan.mms.sockets import Peer, parse_peer
from relevent.wan.mms.tally import Tally
from relevent.wan.mms.throttle import AuthThrottle

log = structlog.get_logger(__name__)

_ANONYMOUS_TOKEN = 1


class Associations:
    """The server's open connections by association state; keep this object as long as the server."""

    def __init__(  # noqa: PLR0913 - the collaborators and what the server knows of its clients
        self,
        server: int,
        guard: ConnectionGuard,
        admission: ConnectionAdmission[int],
        throttle: AuthThrottle,
        hop: LoopHop,
        *,
        accept_anyone: bool,
        actor_of: Callable[[int], str | None],
        host_of: Callable[[Peer], str | None] = lambda peer: peer[0],
        admit: Callable[[Peer], bool] = lambda _: True,
        on_refuse: Callable[[Reason], None] = lambda _: None,
    ) -> None:
        """Follow `server`'s connections; `actor_of` and `host_of` name a connection's actor and host.

        `on_refuse` counts the refusals decided here (the guard counts the closes it decides itself).
        """
        self._guard = guard
        self._hop = hop
        self._admission = admission
        self._throttle = throttle
        self._actor_of = actor_of
        self._host_of = host_of
        self._admit = admit
        self._on_refuse = on_refuse
        self._peers: dict[int, Peer | None] = {}  # every open ClientConnection -> its peer
        self._pending: set[int] = set()  # not associated, refused or failed yet
        self._associated: set[int] = set()
        self._tally = Tally()
        self._indication = ConnectionIndicationHandler(self._on_indication)  # libiec61850 keeps the pointer
        lib.IedServer_setConnectionIndicationHandler(server, self._indication, None)
        # Without passwords everyone associates: `poll` then applies the limits to the actor found.
        self._authenticator = AcseAuthenticator(_accept_anyone) if accept_anyone else None
        if self._authenticator is not None:
            lib.IedServer_setAuthenticator(server, self._authenticator, None)

    @property
    def count(self) -> int:
        """The number of associated connections."""
        return len(self._associated)

    @property
    def waiting(self) -> bool:
        """Whether a connection has not associated yet (`poll` has work)."""
        return bool(self._pending)

    def poll(self) -> None:
        """Decide on the pending connections that got a security token since the last call."""
        for connection in [c for c in self._pending if lib.ClientConnection_getSecurityToken(c)]:
            try:
                self._decide_association(connection)
            except Exception:  # one connection's failure must not end the serve loop
                log.exception("mms association state failed", peer=_text(self._peers.get(connection)))

    def _decide_association(self, connection: int) -> None:
        """Admit or refuse the association of a connection that left the pending state, by its token."""
        self._pending.discard(connection)
        peer = self._peers.get(connection)
        token = lib.ClientConnection_getSecurityToken(connection)
        if token == REFUSED_CREDENTIAL:
            host = self._host_of(peer) if peer else None
            if host is not None:
                self._throttle.failed(host)
            self._refuse(connection, "auth_failed")
        elif token == REFUSED_LIMIT:
            self._refuse(connection, "actor_limit")
        elif self._admission.closing(connection):
            return  # refused already: the guard is closing it
        elif (reason := self._admission.associated(connection, self._actor_of(connection))) is not None:
            self._refuse(connection, reason)
        else:
            self._associated.add(connection)
            if peer is not None:
                self._guard.associated(peer)

    def _refuse(self, connection: int, reason: Reason) -> None:
        """Have the guard close `connection` at once; count it for nothing meanwhile."""
        self._admission.refuse(connection)
        self._on_refuse(reason)
        peer = self._peers.get(connection)
        if peer is not None:
            self._guard.refuse(peer, reason)
            if reason != "auth_failed":  # the throttle logs those
                self._tally.add(self._host_of(peer) or peer[0], reason)

    def _opened(self, connection: int) -> None:
        peer = self._peers[connection] = _peer_of(connection)
        self._pending.add(connection)
        if peer is None:
            return
        host = self._host_of(peer)
        if not self._admit(peer) or host is None:
            log.warning("mms connection refused: no tls relay", peer=_text(peer))
            self._guard.refuse(peer)
            return
        if self._throttle.refuses(host):  # logged by the throttle, in aggregate
            self._on_refuse("throttled")
            self._guard.close_now(peer, "throttled")  # before its password reaches the authenticator
            return
        for closing, reason in self._admission.opened(connection, host):
            self._refuse(closing, reason)

    def _closed(self, connection: int) -> None:
        # A refused association that libiec61850 closed before `poll` saw it still counts.
        token = lib.ClientConnection_getSecurityToken(connection)
        if connection in self._pending and token in (REFUSED_CREDENTIAL, REFUSED_LIMIT):
            self._decide_association(connection)
        self._pending.discard(connection)
        self._associated.discard(connection)
        self._admission.closed(connection)
        peer = self._peers.pop(connection, None)
        if peer is not None:
            self._guard.closed(peer)

    def _on_indication(self, _: int | None, connection: int | None, connected: bool, __: int | None) -> None:
        if connection is not None:
            self._hop.run(partial(self._indicated, connection, connected), None)

    def _indicated(self, connection: int, connected: bool) -> None:
        try:
            if connected:
                self._opened(connection)
            else:
                self._closed(connection)
        except Exception:  # one connection's failure must not reach libiec61850
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


def _text(peer: Peer | None) -> str:
    return f"{peer[0]}:{peer[1]}" if peer else "unknown"
