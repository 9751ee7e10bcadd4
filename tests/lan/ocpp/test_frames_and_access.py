"""Who may connect (identity, Basic auth) and what bad frames get: a CallError, never a crashed driver."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from relevent.demo.ocpp_station import StationOptions
from relevent.lan.driver import DeviceHealth
from relevent.lan.ocpp.config import OcppStation
from tests.lan.ocpp.conftest import WAIT_S, Site, intent, site

OCPP201 = [Subprotocol("ocpp2.0.1")]


async def exchange(ws: ClientConnection, frame: str | bytes) -> list[object]:
    """Send `frame`, return the answer (the gateway's own CALLs, GetVariables, are skipped)."""
    await ws.send(frame)
    async with asyncio.timeout(WAIT_S):
        while True:
            answer: list[object] = json.loads(await ws.recv(decode=True))
            if answer[0] != 2:
                return answer


async def raw(s: Site, station_id: str = "cs-1") -> ClientConnection:
    return await connect(s.url(station_id), subprotocols=OCPP201, proxy=None, open_timeout=WAIT_S)


async def test_bad_frames_get_the_right_call_error_and_the_connection_stays_up() -> None:
    async with site(max_message_bytes=2048) as s:
        ws = await raw(s)
        async with ws:
            assert (await exchange(ws, "not json"))[:3] == [4, "-1", "RpcFrameworkError"]
            assert (await exchange(ws, '{"a": 1}'))[:3] == [4, "-1", "RpcFrameworkError"]
            assert (await exchange(ws, b"\x00\x01"))[:3] == [4, "-1", "RpcFrameworkError"]
            assert (await exchange(ws, '[2, "m1", "Heartbeat"]'))[:3] == [4, "m1", "RpcFrameworkError"]
            oversize = json.dumps([2, "m2", "Heartbeat", {"pad": "x" * 4096}])
            error = await exchange(ws, oversize)
            assert error[:3] == [4, "m2", "FormatViolation"]
            assert "exceeds 2048" in str(error[3])
            schema = await exchange(ws, json.dumps([2, "m3", "BootNotification", {"reason": 7}]))
            assert schema[:2] == [4, "m3"]  # the library's schema check: a violation code
            assert (await exchange(ws, json.dumps([2, "m4", "Heartbeat", {}])))[:2] == [3, "m4"]


async def test_the_driver_keeps_serving_other_stations_after_bad_frames() -> None:
    async with site(("cs-1", "cs-2")) as s:
        ws = await raw(s, "cs-2")
        async with ws:
            await exchange(ws, "x" * 10)
        s.start(StationOptions())
        s.driver.apply(intent("cs-1", 1, w_max_lim=7000.0))
        assert (await s.reports.health_of("cs-1", 1)).health is DeviceHealth.APPLIED


async def test_unknown_station_identity_is_refused_at_the_handshake() -> None:
    async with site() as s:
        with pytest.raises(InvalidStatus) as refused:
            await raw(s, "intruder")
        assert refused.value.response.status_code == 404
        with pytest.raises(InvalidStatus):
            await connect(f"ws://127.0.0.1:{s.port}/elsewhere/cs-1", subprotocols=OCPP201, proxy=None)


@pytest.mark.parametrize("password", [b"0123456789abcdef", b"\xff\xfe raw key bytes \x80"])
async def test_basic_auth_admits_the_right_password_only(tmp_path: Path, password: bytes) -> None:
    key = tmp_path / "cs-1.key"
    key.write_bytes(password + b"\n")
    async with site(stations={"cs-1": OcppStation(password_file=key)}) as s:
        with pytest.raises(InvalidStatus) as missing:
            await raw(s)
        assert missing.value.response.status_code == 401
        s.start(StationOptions(password=b"wrong-password-16"))
        with pytest.raises(TimeoutError):
            await s.reports.wait(lambda: s.reports.power("cs-1") is not None, 1.0)
        for task in s.tasks:
            task.cancel()
        s.start(StationOptions(password=password))
        await s.reports.wait(lambda: s.reports.power("cs-1") is not None)
