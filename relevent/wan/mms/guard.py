"""The connection guard: closes MMS connections that do not associate in time.

libiec61850 never times out a TCP connection that does not complete the MMS association, so five silent
connections would take every slot for good. The guard is a daemon thread of its own, independent of the
loop: every `poll_s` it looks at the server's accepted sockets (`sockets.accepted`) and shuts down each one
that is

- not associated after `association_timeout_s`, or
- refused by the loop thread (`refuse`: with TLS, a loopback connection that is no relay of the
  `TlsFront`; one over a connection limit (`admission`); a failed or throttled authentication), which
  wakes the guard at once.

libiec61850 then reads the closed socket and frees the slot itself. The loop thread reports which peers
are associated or refused (`Associations`); an associated connection is only closed when refused. TLS
handshakes are the `TlsFront`'s: it bounds them by `tls_handshake_timeout_s` and counts its closes with the
same reasons.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal

import structlog

from relevent.config import MmsSection, default
from relevent.wan.mms.sockets import Peer, accepted

log = structlog.get_logger(__name__)

Reason = Literal[
    "tls_handshake", "unknown_certificate", "no_association", "not_relayed",
    "peer_limit", "evicted", "actor_limit", "auth_failed", "throttled",
]  # fmt: skip
# Closes a flood may cause by the thousand: whoever refuses them counts them and logs them in aggregate.
TALLIED: frozenset[Reason] = frozenset({"peer_limit", "evicted", "actor_limit", "auth_failed", "throttled"})


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """How long a connection may take to associate (and, with TLS, to complete its handshake)."""

    association_timeout_s: float = default(MmsSection, "association_timeout_s")
    tls_handshake_timeout_s: float = default(MmsSection, "tls_handshake_timeout_s")  # the TlsFront's

    @property
    def poll_s(self) -> float:
        """How often the sockets are checked: a fifth of the association timeout, within [50 ms, 1 s]."""
        return min(1.0, max(0.05, self.association_timeout_s / 5))


def overdue(
    age_s: float, *, associated: bool, refused: Reason | None, settings: GuardSettings
) -> Reason | None:
    """Why a connection of that age and state must be closed now, or None."""
    if refused is not None:
        return refused
    if associated:
        return None
    return "no_association" if age_s > settings.association_timeout_s else None


class ConnectionGuard:
    """The guard thread of one server port; `associated`/`refuse`/`closed` are called from the loop thread."""

    def __init__(
        self,
        port: int,
        settings: GuardSettings,
        *,
        on_close: Callable[[Reason], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._port = port
        self._settings = settings
        self._on_close = on_close
        self._clock = clock
        self._lock = threading.Lock()  # guards the two collections, shared with the loop thread
        self._associated: set[Peer] = set()
        self._refused: dict[Peer, Reason] = {}
        self._first_seen: dict[tuple[int, Peer], float] = {}  # guard thread only, as is the next
        self._shut_down: set[tuple[int, Peer]] = set()  # until libiec61850 has closed them
        self._stopping = threading.Event()
        self._wake = threading.Event()  # a refusal: check now, not at the next poll
        self._thread = threading.Thread(target=self._run, name="mms-guard", daemon=True)

    def refuse(self, peer: Peer, reason: Reason = "not_relayed") -> None:
        """`peer` must not be served: the guard closes its connection at once (associated or not)."""
        with self._lock:
            self._refused[peer] = reason
        self._wake.set()

    def close_now(self, peer: Peer, reason: Reason) -> None:
        """`refuse`, but shut the connection down on the calling thread, before libiec61850 reads on.

        Just accepted, a client has not sent its association yet (it waits for the COTP answer): closed
        now, it never reaches the authenticator. Costs a scan of the process's descriptors.
        """
        self.refuse(peer, reason)  # should the scan miss it, the guard thread closes it
        with accepted(self._port) as connections:
            for connection in connections:
                if connection.peer == peer:
                    with suppress(OSError):  # gone already
                        connection.shut_down()

    def associated(self, peer: Peer) -> None:
        """`peer` completed its association: the guard leaves it alone from now on."""
        with self._lock:
            self._associated.add(peer)

    def closed(self, peer: Peer) -> None:
        """libiec61850 closed the connection of `peer`."""
        with self._lock:
            self._associated.discard(peer)
            self._refused.pop(peer, None)

    def start(self) -> None:
        """Start the guard thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the guard thread and wait for it (at most one check)."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._settings.poll_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.check()
            except Exception:  # a failed check must not end the guard: the next one may succeed
                log.exception("mms connection guard check failed")

    def check(self) -> None:
        """Close every connection overdue now (one pass of the guard thread)."""
        now = self._clock()
        seen: dict[tuple[int, Peer], float] = {}
        with accepted(self._port) as connections:
            for connection in connections:
                key = (connection.inode, connection.peer)
                seen[key] = first = self._first_seen.get(key, now)
                if key in self._shut_down:
                    continue
                with self._lock:
                    associated = connection.peer in self._associated
                    refused = self._refused.get(connection.peer)
                reason = overdue(now - first, associated=associated, refused=refused, settings=self._settings)
                if reason is None:
                    continue
                try:
                    connection.shut_down()
                except OSError:
                    continue  # gone already
                self._shut_down.add(key)
                host, port = connection.peer
                if reason not in TALLIED:
                    log.warning("mms connection closed by guard", peer=f"{host}:{port}", reason=reason,
                                age_s=round(now - first, 3))  # fmt: skip
                    self._on_close(reason)
        self._first_seen = seen
        self._shut_down.intersection_update(seen)
