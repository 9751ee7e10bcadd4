"""The connection guard against the real libiec61850 server (issue #7).

Silent TCP connections are closed once overdue, so they no longer lock SCADA out; an associated
connection is never closed; with TLS a silent connection neither stalls the event loop nor takes a slot, and
a connection around the TLS front is closed without changing anything. Clients are open61850 (pure Python,
same process) and libiec61850's own (another process).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pyiec61850.pyiec61850 as iec
import pytest
from open61850.data import IntData
from open61850.mms import MmsClient, ObjectName
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from relevent.config import ServeMode
from relevent.ctl.client import ClientSecurity
from relevent.scl.model import SclDocument
from relevent.wan.mms import GuardSettings, Verdict
from relevent.wan.mms.security import Credentials, TlsFiles
from tests.mms.iec_client import IecClient
from tests.mms.support import BOTH_SERVES, HOST, LD, PolicyGate, running
from tests.pki import Pki

GUARD = GuardSettings(association_timeout_s=0.5, tls_handshake_timeout_s=0.5)
BOUND_S = 5.0  # for every wait on the guard; it acts within a timeout plus one poll (0.1 s here)
PRIO = "ActPow_FSCH01$SP$SchdPrio$setVal"
CLOSED = "relevent_mms_guard_closed_total"


async def eventually(holds: Callable[[], bool], what: str, timeout_s: float = BOUND_S) -> float:
    """Check `holds` every 10 ms until it does; return how long that took, fail after `timeout_s`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not holds():
        if loop.time() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.01)
    return loop.time() - started


def hung_up(sock: socket.socket) -> bool:
    """Whether the server closed `sock` (read to its end, whatever it sent before)."""
    sock.settimeout(BOUND_S)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return True


async def _write(client: MmsClient, value: int) -> None:
    await asyncio.to_thread(client.write, ObjectName(PRIO, LD), IntData(value))


def _gate() -> PolicyGate:
    return PolicyGate(rules={f"{LD}/ActPow_FSCH01.SchdPrio.setVal": lambda _: Verdict.SUCCESS})


async def test_silent_connections_are_closed_in_time_and_an_associated_one_is_kept(
    reference: SclDocument,
) -> None:
    registry = CollectorRegistry()
    gate = _gate()
    async with running(reference, gate, guard=GUARD, registry=registry) as server:
        port = server.settings.port
        keeper = await asyncio.to_thread(MmsClient.connect, HOST, port)
        try:
            await eventually(lambda: server.associations == 1, "the first client associated")
            # Every slot but the one kept free for the next client (test_admission covers that one).
            silent = [socket.create_connection((HOST, port)) for _ in range(3)]
            await eventually(lambda: server.connections == 4, "every usable slot taken")
            assert server.associations == 1  # a silent connection is no client
            freed_s = await eventually(lambda: server.connections == 1, "the silent connections closed")
            assert all(hung_up(sock) for sock in silent)
            # The keeper is older than every silent connection and was judged in the same checks: kept.
            await _write(keeper, 7)
            newcomer = await asyncio.to_thread(MmsClient.connect, HOST, port)
            await _write(newcomer, 8)
            newcomer.close()
        finally:
            keeper.close()
        for sock in silent:
            sock.close()
    print(f"\n3 silent connections closed {freed_s:.2f} s after they took the slots")  # noqa: T201
    assert freed_s < GUARD.association_timeout_s + 1.0
    assert registry.get_sample_value(CLOSED, {"reason": "no_association"}) == 3
    assert registry.get_sample_value(CLOSED, {"reason": "tls_handshake"}) is None
    assert [value for _, value, _ in gate.writes] == [7, 8]


@BOTH_SERVES
async def test_the_association_count_follows_associations_not_tcp_connections(
    reference: SclDocument, serve: ServeMode
) -> None:
    async with running(reference, _gate(), serve=serve) as server:
        silent = socket.create_connection((HOST, server.settings.port))
        await eventually(lambda: server.connections == 1, "the silent connection accepted")
        client = await asyncio.to_thread(MmsClient.connect, HOST, server.settings.port)
        await eventually(lambda: server.associations == 1, "the client associated")
        assert server.connections == 2
        client.close()
        await eventually(lambda: server.associations == 0, "the client gone")
        # libiec61850 counts the connection until it has told the loop (its thread waits for that)
        await eventually(lambda: server.connections == 1, "the client's connection freed")
        silent.close()


@BOTH_SERVES
async def test_a_password_association_counts_and_is_kept_a_refused_one_does_not(
    reference: SclDocument, iec_client: IecClient, serve: ServeMode
) -> None:
    credentials = Credentials("password", passwords={"dso": SecretStr("dso-pw")})
    async with running(reference, _gate(), credentials=credentials, guard=GUARD, serve=serve) as server:
        port = server.settings.port
        with pytest.raises(RuntimeError, match="UnreachableError"):
            await iec_client.call("connect", HOST, port, ClientSecurity(password="wrong"))
        assert server.associations == 0
        await iec_client.call("connect", HOST, port, ClientSecurity(password="dso-pw"))
        await eventually(lambda: server.associations == 1, "the authenticated client associated")
        silent = socket.create_connection((HOST, port))  # its close proves a check judged the client
        await eventually(lambda: server.connections == 2, "the silent connection accepted")
        await eventually(lambda: server.connections == 1, "the silent connection closed")
        assert (
            await iec_client.call("write", f"{LD}/ActPow_FSCH01.SchdPrio.setVal", "SP", 3) == iec.IED_ERROR_OK
        )
        await iec_client.call("close")
        silent.close()


def _tls(pki: Pki) -> TlsFiles:
    return TlsFiles(ca=pki.ca, cert=pki.server.cert, key=pki.server.key)


class LoopStalls:
    """The longest the event loop went without running a 10 ms ticker (the stall of a blocking call)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self.longest_s = 0.0
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self._record()

    def _record(self) -> None:
        now = self._loop.time()
        self.longest_s = max(self.longest_s, now - self._last - 0.01)
        self._last = now

    def stop(self) -> None:
        """Stop ticking; the time since the last tick counts too (the stall may have just ended)."""
        self._record()
        self._task.cancel()


@pytest.mark.timeout(60, method="thread")  # a stalled loop could not fail the test itself
async def test_a_silent_tls_connection_neither_stalls_the_loop_nor_takes_a_slot(
    reference: SclDocument, iec_client: IecClient, pki: Pki
) -> None:
    registry = CollectorRegistry()
    async with running(reference, _gate(), tls=_tls(pki), guard=GUARD, registry=registry) as server:
        port = server.settings.port
        security = ClientSecurity(ca_file=pki.ca, cert_file=pki.scada.cert, key_file=pki.scada.key)
        await iec_client.call("connect", HOST, port, security)  # associated before the silent one comes
        stalls = LoopStalls()
        silent = socket.create_connection((HOST, port))
        await eventually(lambda: registry.get_sample_value(CLOSED, {"reason": "tls_handshake"}) == 1,
                         "the silent TLS connection closed")  # fmt: skip
        stalls.stop()
        assert server.connections == 1  # the silent one never reached libiec61850
        assert hung_up(silent)
        silent.close()
        ref = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
        assert await iec_client.call("write", ref, "SP", 9) == iec.IED_ERROR_OK  # it was never closed
        await iec_client.call("close")
        await iec_client.call("connect", HOST, port, security)  # and a new TLS client gets in
        assert await iec_client.call("write", ref, "SP", 10) == iec.IED_ERROR_OK
        await iec_client.call("close")
    print(f"\nevent loop stalled at most {stalls.longest_s * 1000:.0f} ms by a silent TLS connection")  # noqa: T201
    assert stalls.longest_s < GUARD.tls_handshake_timeout_s / 2  # libiec61850's own handshake held it 0.5 s
    assert registry.get_sample_value(CLOSED, {"reason": "no_association"}) is None


async def test_a_connection_around_the_tls_front_is_closed_and_changes_nothing(
    reference: SclDocument, pki: Pki
) -> None:
    registry = CollectorRegistry()
    gate = _gate()
    async with running(reference, gate, tls=_tls(pki), guard=GUARD, registry=registry) as server:
        assert server.library_port != server.settings.port
        try:  # plain MMS straight to libiec61850's loopback port, as any local process could
            intruder = await asyncio.to_thread(MmsClient.connect, HOST, server.library_port)
            await _write(intruder, 5)
        except Exception as exc:  # noqa: BLE001 - refused or closed: both are the point
            print(f"\nthe intruder got: {exc!r}")  # noqa: T201
        await eventually(lambda: registry.get_sample_value(CLOSED, {"reason": "not_relayed"}) == 1,
                         "the intruder closed by the guard")  # fmt: skip
        await eventually(lambda: server.connections == 0, "its slot freed")
    assert gate.writes == []
