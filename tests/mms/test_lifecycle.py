"""Starting, stopping and failing to start the MMS server."""

from __future__ import annotations

import asyncio
import socket

import pytest

from relevent.config import ServeMode
from relevent.errors import ReleventError
from relevent.ports import free_port
from relevent.scl.model import SclDocument
from relevent.wan.mms import MmsServer, MmsServerError, MmsSettings, Verdict
from relevent.wan.mms.lib import iec
from relevent.wan.mms.security import TlsFiles
from relevent.wan.mms.server import THREAD_MAX_REPORT_BLOCKS, serving_thread
from tests.daemon import taken_port
from tests.mms.iec_client import IecClient
from tests.mms.support import BOTH_SERVES, HOST, LD, PolicyGate
from tests.pki import Pki


@pytest.mark.parametrize("tls", [False, True])
async def test_a_busy_port_is_a_clear_error(reference: SclDocument, pki: Pki, tls: bool) -> None:
    files = TlsFiles(pki.ca, pki.server.cert, pki.server.key) if tls else None  # TLS: the front's port
    with taken_port(HOST) as port:
        server = MmsServer.build(reference, PolicyGate(), MmsSettings(host=HOST, port=port, tls=files))
        try:
            with pytest.raises(MmsServerError, match=rf"cannot listen on {HOST}:{port} .* in use") as failed:
                server.start()
        finally:
            server.close()
    assert isinstance(failed.value, ReleventError)  # the CLI turns it into a non-zero exit


@BOTH_SERVES
async def test_an_instant_that_stays_due_never_starves_writes(
    reference: SclDocument, iec_client: IecClient, serve: ServeMode
) -> None:
    port = free_port()
    prio = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
    gate = PolicyGate(rules={prio: lambda _: Verdict.SUCCESS})
    server = MmsServer.build(reference, gate, MmsSettings(host=HOST, port=port, serve=serve))
    try:
        server.start()
        serving = asyncio.create_task(server.serve(time_to_next=lambda: 0.0))  # a wedged timer, always due
        await iec_client.call("connect", HOST, port)
        # Each write's work on the loop waits out a quiet window (its length: tests/mms/test_pacing.py); a
        # starved one would be refused when libiec61850's thread stops waiting for the loop.
        wrote = [await iec_client.call("write", prio, "SP", n) for n in range(5)]
        await iec_client.call("close")
        server.stop()
        await serving
    finally:
        server.close()
    assert wrote == [iec.IED_ERROR_OK] * 5
    assert [value for _, value, _ in gate.writes] == list(range(5))


@BOTH_SERVES
async def test_stop_ends_serving_and_closes_the_port(
    reference: SclDocument, iec_client: IecClient, serve: ServeMode
) -> None:
    port = free_port()
    server = MmsServer.build(reference, PolicyGate(), MmsSettings(host=HOST, port=port, serve=serve))
    try:
        server.start()
        serving = asyncio.create_task(server.serve())
        await iec_client.call("connect", HOST, port)
        assert server.connections == 1
        server.stop()
        async with asyncio.timeout(1):
            await serving
    finally:
        server.close()
    with socket.socket() as probe:  # nothing listens any more
        assert probe.connect_ex((HOST, port)) != 0


@BOTH_SERVES
async def test_cancelling_serve_stops_the_server(reference: SclDocument, serve: ServeMode) -> None:
    port = free_port()
    server = MmsServer.build(reference, PolicyGate(), MmsSettings(host=HOST, port=port, serve=serve))
    try:
        server.start()
        serving = asyncio.create_task(server.serve())
        await asyncio.sleep(0)
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
    finally:
        server.close()
    with socket.socket() as probe:
        assert probe.connect_ex((HOST, port)) != 0


@BOTH_SERVES
async def test_closing_a_started_server_that_never_served(reference: SclDocument, serve: ServeMode) -> None:
    server = MmsServer.build(reference, PolicyGate(), MmsSettings(host=HOST, port=free_port(), serve=serve))
    server.start()
    server.close()
    server.close()  # idempotent


@pytest.mark.parametrize(
    ("mode", "blocks", "threaded"),
    [
        ("auto", 7, True),  # one LD of automatic report blocks
        ("auto", THREAD_MAX_REPORT_BLOCKS, True),
        ("auto", THREAD_MAX_REPORT_BLOCKS + 1, False),  # a large site: the thread's scan would cost
        ("thread", 10_000, True),
        ("loop", 7, False),
    ],
)
def test_the_serving_thread_follows_the_setting_and_the_number_of_report_blocks(
    mode: ServeMode, blocks: int, threaded: bool
) -> None:
    assert serving_thread(mode, blocks) is threaded


def test_a_model_is_served_by_the_thread_by_default(reference: SclDocument) -> None:
    server = MmsServer.build(reference, PolicyGate(), MmsSettings(host=HOST, port=free_port()))
    try:
        assert server.threaded
    finally:
        server.close()
