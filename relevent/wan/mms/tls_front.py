"""TLS of the MMS port, terminated in the event loop and relayed to libiec61850 on loopback.

libiec61850 runs its TLS handshake blocking, on the thread that processes MMS (the event-loop thread
here): a client that opens a TLS connection and stays silent would hold the scheduler, MQTT and every other
MMS client until the handshake times out, and a peer that keeps doing it would hold them for good. So the
gateway terminates TLS itself, with asyncio's non-blocking handshakes, each bounded by `handshake_timeout_s`,
and relays every session's bytes to libiec61850, which serves plain MMS on a loopback port:

- at most `per_peer` connections per client address, handshakes included: more are closed at accept,
  before any handshake work (counted and logged in aggregate);
- mutual TLS, 1.2 or later: the client certificate must chain to the configured CA;
- with certificate authentication (`identify`), a certificate listed for no actor is refused;
- each relay connects from a loopback port bound before it connects, so when libiec61850 reports a
  connection from `127.0.0.1:<port>`, `session()` names its TLS client and actor. Connections to the
  loopback port that are no relay are closed by the connection guard (`Associations(admit=...)`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import structlog

from relevent.ports import address_family
from relevent.wan.mms.guard import Reason
from relevent.wan.mms.security import TlsFiles, TlsSetupError
from relevent.wan.mms.sockets import Peer, parse_peer, peer
from relevent.wan.mms.tally import Tally

log = structlog.get_logger(__name__)

LOOPBACK = "127.0.0.1"
_CHUNK = 65536

Identify = Callable[[bytes], str | None]  # DER client certificate -> actor name, or None: refused


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The server side of mutual TLS: own certificate and key, clients' certificates from the CA only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    # No TLS 1.3 session tickets: libiec61850's client (mbedTLS 3) fails the connection on receiving one.
    context.num_tickets = 0
    try:
        context.load_verify_locations(cafile=str(files.ca))
    except (OSError, ValueError):
        raise TlsSetupError("cannot load the MMS ca_file (not PEM, or unreadable)") from None
    try:
        context.load_cert_chain(str(files.cert), str(files.key))
    except (OSError, ValueError):
        raise TlsSetupError(
            "cannot load the MMS cert_file and key_file (not PEM, unreadable, or not a pair)"
        ) from None
    return context


@dataclass(frozen=True, slots=True)
class Session:
    """Who is behind one relayed connection."""

    client: str  # the TLS client's `host:port`
    actor: str | None  # by its certificate, when certificates name actors


class TlsFront:
    """The TLS listener of one MMS port: `listen()` binds, `serve()` relays to libiec61850 until cancelled."""

    def __init__(
        self,
        files: TlsFiles,
        *,
        handshake_timeout_s: float,
        identify: Identify | None = None,
        per_peer: int | None = None,
        on_close: Callable[[Reason], None] = lambda _: None,
    ) -> None:
        self._context = server_context(files)
        self._timeout = handshake_timeout_s
        self._identify = identify
        self._per_peer = per_peer
        self._on_close = on_close
        self._hosts: Counter[str] = Counter()  # open connections per client host, handshakes included
        self._refusals = Tally()
        self._listener: socket.socket | None = None
        self._sessions: dict[int, Session] = {}  # local port of the relay's loopback connection -> session
        self._writers: set[asyncio.StreamWriter] = set()

    def listen(self, host: str, port: int) -> None:
        """Bind and listen on the public address (OSError when that fails)."""
        listener = socket.create_server((host, port), family=address_family(host), backlog=16)
        listener.setblocking(False)  # noqa: FBT003
        self._listener = listener

    @property
    def relays(self) -> int:
        """How many sessions are relayed (or connecting to libiec61850) now."""
        return len(self._sessions)

    def session(self, peer: Peer | None) -> Session | None:
        """The session behind a connection libiec61850 reports from `peer`; None: that is no relay."""
        if peer is None or peer[0] != LOOPBACK:
            return None
        return self._sessions.get(peer[1])

    def session_of(self, peer_text: str) -> Session | None:
        """`session` of libiec61850's `host:port` spelling."""
        return self.session(parse_peer(peer_text))

    async def serve(self, backend_port: int) -> None:
        """Accept, hand-shake and relay until cancelled; then close the listener and every session."""
        assert self._listener is not None, "listen() first"
        loop = asyncio.get_running_loop()
        relays: set[asyncio.Task[None]] = set()
        try:
            while True:
                sock, address = await loop.sock_accept(self._listener)
                host = peer(address[0], address[1])[0]
                if self._per_peer is not None and self._hosts[host] >= self._per_peer:
                    sock.close()
                    self._on_close("peer_limit")
                    self._refusals.add(host, "peer_limit")
                    continue
                self._hosts[host] += 1
                relay = asyncio.create_task(self._relay(sock, backend_port))
                relays.add(relay)
                relay.add_done_callback(relays.discard)
                relay.add_done_callback(partial(self._left, host))
        finally:
            self._listener.close()
            self._listener = None
            for writer in list(self._writers):
                writer.transport.abort()
            for relay in relays:
                relay.cancel()

    def _left(self, host: str, _: asyncio.Task[None]) -> None:
        self._hosts[host] -= 1
        if self._hosts[host] <= 0:
            del self._hosts[host]

    async def _relay(self, sock: socket.socket, backend_port: int) -> None:
        client = _text(sock)
        streams = await self._handshake(sock, client)
        if streams is None:
            return
        reader, writer = streams
        self._writers.add(writer)
        local_port = 0
        try:
            session = self._session(writer, client)
            if session is None:
                return
            backend, local_port = await self._connect(session, backend_port)
            self._writers.add(backend[1])
            try:
                await asyncio.gather(_pump(reader, backend[1]), _pump(backend[0], writer))
            finally:
                self._writers.discard(backend[1])
        except OSError as exc:
            log.warning("mms tls relay failed", peer=client, error=str(exc))
        finally:
            self._sessions.pop(local_port, None)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _handshake(
        self, sock: socket.socket, client: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """TLS on an accepted socket from its first byte, as streams; None when the handshake fails.

        Not `StreamWriter.start_tls` on a plain stream: that stream may already have read the ClientHello,
        which the TLS layer then never sees (the handshake hangs until its timeout).
        """
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=self._context, ssl_handshake_timeout=self._timeout
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.warning("mms tls handshake failed", peer=client, error=str(exc) or type(exc).__name__)
            self._on_close("tls_handshake")
            sock.close()
            return None
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    def _session(self, writer: asyncio.StreamWriter, client: str) -> Session | None:
        """The session of a client whose certificate is admitted (the actor it names), else None."""
        actor = None
        if self._identify is not None:
            tls = writer.get_extra_info("ssl_object")
            actor = self._identify(tls.getpeercert(binary_form=True) or b"")
            if actor is None:
                log.warning("mms association refused", method="certificate", peer=client)
                self._on_close("unknown_certificate")
                return None
            log.info("mms association authenticated", actor=actor, peer=client)
        return Session(client, actor)

    async def _connect(
        self, session: Session, backend_port: int
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], int]:
        """A loopback connection to libiec61850, registered under its local port before it connects."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        local_port = 0
        try:
            sock.setblocking(False)  # noqa: FBT003
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((LOOPBACK, 0))
            local_port = sock.getsockname()[1]
            self._sessions[local_port] = session
            await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, backend_port))
            return await asyncio.open_connection(sock=sock), local_port
        except BaseException:
            self._sessions.pop(local_port, None)  # a port that relays nothing must admit nobody
            sock.close()
            raise


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy `reader` to `writer` until either side ends; then close `writer` (its peer sees the end)."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass  # reset: the other direction ends as well once `writer` is closed
    finally:
        writer.close()


def _text(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "unknown"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

