"""The TLS front alone: real TLS clients (Python's ssl) in front, a plain loopback listener in libiec61850's
place behind it. A session is relayed both ways and named by its relay's port; a silent client times out
without a relay; a certificate listed for nobody is refused; stopping ends every session."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from relevent.ports import free_port
from relevent.wan.mms.guard import Reason
from relevent.wan.mms.security import TlsFiles, TlsSetupError
from relevent.wan.mms.sockets import Peer, peer
from relevent.wan.mms.tls_front import Session, TlsFront
from tests.pki import Identity, Pki

HOST = "127.0.0.1"
BOUND_S = 5.0


@dataclass
class Backend:
    """An echo server in libiec61850's place, recording the peer of every connection it accepts."""

    port: int = 0
    peers: list[Peer] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(peer(*writer.get_extra_info("peername")[:2]))
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()
        self.ended.set()


def _der(identity: Identity) -> bytes:
    return ssl.PEM_cert_to_DER_cert(identity.cert.read_text())


def _client_context(pki: Pki, identity: Identity) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(identity.cert), str(identity.key))
    return context


@asynccontextmanager
async def front_of(
    pki: Pki, closed: list[Reason], timeout_s: float = BOUND_S
) -> AsyncIterator[tuple[int, Backend, TlsFront]]:
    """A front on a free port relaying to an echo backend; yields (port, backend, front)."""
    backend = Backend()
    server = await asyncio.start_server(backend.on_client, HOST, 0)
    backend.port = server.sockets[0].getsockname()[1]
    scada = hashlib.sha256(_der(pki.scada)).digest()
    front = TlsFront(TlsFiles(pki.ca, pki.server.cert, pki.server.key), handshake_timeout_s=timeout_s,
                     identify=lambda der: "scada" if hashlib.sha256(der).digest() == scada else None,
                     on_close=closed.append)  # fmt: skip
    port = free_port()
    front.listen(HOST, port)
    task = asyncio.create_task(front.serve(backend.port))
    try:
        yield port, backend, front
    finally:
        task.cancel()
        await asyncio.wait([task])
        server.close()


async def _relayed(port: int, pki: Pki) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TLS session as SCADA whose first bytes came back through the front and the echo backend."""
    reader, writer = await asyncio.open_connection(HOST, port, ssl=_client_context(pki, pki.scada))
    writer.write(b"associate")
    assert await asyncio.wait_for(reader.readexactly(9), BOUND_S) == b"associate"
    return reader, writer


async def test_a_session_is_relayed_both_ways_and_named_by_its_relay_port(pki: Pki) -> None:
    closed: list[Reason] = []
    async with front_of(pki, closed) as (port, backend, front):
        _, writer = await _relayed(port, pki)
        (relay,) = backend.peers
        client_port = writer.get_extra_info("sockname")[1]
        assert front.session(relay) == Session(client=f"{HOST}:{client_port}", actor="scada")
        assert front.session_of(f"{relay[0]}:{relay[1]}") == front.session(relay)
        assert front.session((HOST, client_port)) is None  # only relays have sessions
        writer.close()
        await asyncio.wait_for(backend.ended.wait(), BOUND_S)  # the client's end reaches the backend
        await _until(lambda: front.session(relay) is None, "the session forgotten")
        assert front.relays == 0
    assert closed == []


async def test_a_client_hello_that_arrives_before_the_front_reads_still_hand_shakes(pki: Pki) -> None:
    closed: list[Reason] = []
    async with front_of(pki, closed) as (port, _, _):
        raw = socket.create_connection((HOST, port))
        context = _client_context(pki, pki.scada)
        handshake = asyncio.get_running_loop().run_in_executor(
            None, lambda: context.wrap_socket(raw, server_hostname=HOST)
        )
        time.sleep(0.3)  # noqa: ASYNC251 - on purpose: accept and ClientHello both wait when the loop goes on
        tls = await asyncio.wait_for(handshake, BOUND_S)
        tls.settimeout(BOUND_S)

        def echo() -> bytes:
            tls.sendall(b"ping")
            return tls.recv(4)

        assert await asyncio.to_thread(echo) == b"ping"  # the front's loop must run meanwhile
        tls.close()
    assert closed == []


async def test_a_silent_client_times_out_and_never_reaches_the_backend(pki: Pki) -> None:
    closed: list[Reason] = []
    async with front_of(pki, closed, timeout_s=0.3) as (port, backend, _):
        silent = socket.create_connection((HOST, port))
        silent.setblocking(False)
        await _until(lambda: closed == ["tls_handshake"], "the handshake timed out")
        await _until(lambda: _hung_up(silent), "the silent client closed")
        silent.close()
        assert backend.peers == []


async def test_a_certificate_listed_for_nobody_is_refused_after_the_handshake(pki: Pki) -> None:
    closed: list[Reason] = []
    async with front_of(pki, closed) as (port, backend, _):
        reader, writer = await asyncio.open_connection(HOST, port, ssl=_client_context(pki, pki.other))
        assert await asyncio.wait_for(reader.read(), BOUND_S) == b""
        writer.close()
        assert closed == ["unknown_certificate"]
        assert backend.peers == []


async def test_a_client_of_another_ca_fails_its_handshake(pki: Pki) -> None:
    closed: list[Reason] = []
    async with front_of(pki, closed) as (port, backend, _):
        try:  # TLS 1.3 completes the client's side and refuses it after its Finished: an end, no data
            reader, writer = await asyncio.open_connection(HOST, port, ssl=_client_context(pki, pki.rogue))
            assert await asyncio.wait_for(reader.read(), BOUND_S) == b""
            writer.close()
        except (ssl.SSLError, ConnectionError):
            pass  # refused within the handshake
        await _until(lambda: closed == ["tls_handshake"], "the handshake failure counted")
        assert backend.peers == []


async def test_stopping_ends_every_session(pki: Pki) -> None:
    closed: list[Reason] = []
    async with front_of(pki, closed) as (port, backend, _):
        reader, writer = await _relayed(port, pki)
    with pytest.raises((ConnectionError, ssl.SSLError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), BOUND_S)
    writer.close()
    await asyncio.wait_for(backend.ended.wait(), BOUND_S)


async def test_a_relay_that_cannot_reach_libiec61850_ends_and_leaves_no_session(pki: Pki) -> None:
    with socket.socket() as vacant:  # a loopback port nobody listens on
        vacant.bind((HOST, 0))
        gone = vacant.getsockname()[1]
    front = TlsFront(TlsFiles(pki.ca, pki.server.cert, pki.server.key), handshake_timeout_s=BOUND_S)
    front.listen(HOST, port := free_port())
    task = asyncio.create_task(front.serve(gone))
    try:
        reader, writer = await asyncio.open_connection(HOST, port, ssl=_client_context(pki, pki.scada))
        with contextlib.suppress(ConnectionError):  # ended by a reset: just as well
            assert await asyncio.wait_for(reader.read(), BOUND_S) == b""  # the relay ended
        writer.close()
        assert front.relays == 0
    finally:
        task.cancel()
        await asyncio.wait([task])


def test_a_key_that_is_no_key_is_a_setup_error(pki: Pki) -> None:
    with pytest.raises(TlsSetupError, match="key_file"):
        TlsFront(TlsFiles(pki.ca, pki.server.cert, pki.ca), handshake_timeout_s=1.0)


async def _until(holds: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_S
    while not holds():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {BOUND_S} s")
        await asyncio.sleep(0.01)


def _hung_up(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
