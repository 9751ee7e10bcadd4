"""The daemon's operator interfaces: HTTP health/readiness/metrics, systemd notify and watchdog."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from open61850.data import IntData
from open61850.mms import DataAccessError, MmsClient, ObjectName

from tests.daemon import GatewayArgs, run_cli, running, taken_port
from tests.mosquitto import Broker

pytestmark = pytest.mark.slow
LD = "DER_Scheduler_Control"


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_health_readiness_and_metrics_endpoints(tmp_path: Path, broker: Broker) -> None:
    with running(GatewayArgs(tmp_path, mqtt_url=broker.url).argv()) as gw:
        port = gw.wait_for("http listening")["port"]
        gw.wait_for("mqtt connected")
        gw.wait_for("gateway running")
        assert _get(port, "/healthz") == (200, b'{"status": "ok"}')
        status, body = _get(port, "/readyz")
        checks = {"scl_loaded": True, "mms_listening": True, "mqtt_connected": True, "audit_writable": True}
        assert (status, json.loads(body)) == (200, {"ready": True, "checks": checks})
        status, body = _get(port, "/metrics")
        assert status == 200
        assert b"relevent_mqtt_connected 1.0" in body
        broker.kill()
        gw.wait_for("mqtt connection lost")
        status, body = _get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["mqtt_connected"] is False
        assert gw.stop() == 0


def test_http_port_in_use_exits_69_with_a_clear_error(tmp_path: Path) -> None:
    with taken_port() as port:
        result = run_cli(*GatewayArgs(tmp_path).argv(), "--http-port", str(port))
    assert result.returncode == 69
    assert result.stderr.startswith(f"relevent-gw: error: HTTP endpoint 127.0.0.1:{port} cannot start")
    assert "Traceback" not in result.stderr


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(10)
    yield sock
    sock.close()


def _messages_until(sock: socket.socket, wanted: str) -> list[str]:
    seen: list[str] = []
    while wanted not in seen:
        seen.extend(sock.recv(4096).decode().splitlines())
    return seen


def test_sd_notify_ready_watchdog_and_stopping(tmp_path: Path, notify_socket: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "200000"}
    with running(GatewayArgs(tmp_path / "s").argv(), env=env) as gw:
        first = _messages_until(notify_socket, "READY=1")
        assert any(line.startswith("STATUS=serving 33 schedules") for line in first)
        _messages_until(notify_socket, "WATCHDOG=1")
        _messages_until(notify_socket, "WATCHDOG=1")
        assert gw.stop() == 0
        assert "STOPPING=1" in _messages_until(notify_socket, "STOPPING=1")


def test_watchdog_is_off_for_another_pid(tmp_path: Path, notify_socket: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}
    with running(GatewayArgs(tmp_path / "s").argv(), env=env) as gw:
        _messages_until(notify_socket, "READY=1")
        gw.wait_for("gateway running")
        assert gw.stop() == 0
        assert "WATCHDOG=1" not in _messages_until(notify_socket, "STOPPING=1")


def test_every_change_is_audited_and_counted(tmp_path: Path) -> None:
    args = GatewayArgs(tmp_path)
    with running(args.argv()) as gw:
        http_port = gw.wait_for("http listening")["port"]
        gw.wait_for("gateway running")
        client = MmsClient.connect("127.0.0.1", args.mms_port)
        try:
            client.write(ObjectName("ActPow_FSCH01$SP$SchdPrio$setVal", LD), IntData(42))
            with pytest.raises(DataAccessError):
                client.write(ObjectName("ActPow_Res_FSCH01$SP$SchdPrio$setVal", LD), IntData(7))
            _, during = _get(http_port, "/metrics")
            assert "relevent_mms_associations 1.0" in during.decode()
        finally:
            client.close()
        accepted = gw.wait_for("audit")
        assert accepted["object"] == f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
        assert (accepted["old"], accepted["new"], accepted["result"]) == (0, 42, "accepted")
        assert accepted["protocol"] == "mms"
        assert accepted["peer"].startswith("127.0.0.1:")
        rejected = next(line for line in gw.lines[gw.lines.index(accepted) + 1:] if line["event"] == "audit")
        assert (rejected["old"], rejected["new"], rejected["result"]) == (0, 7, "access_denied")  # as asked
        _, body = _get(http_port, "/metrics")
        text = body.decode()
        assert 'relevent_commands_total{command="write",protocol="mms",result="accepted"} 1.0' in text
        assert 'relevent_commands_total{command="write",protocol="mms",result="access_denied"} 1.0' in text
        assert f'relevent_schedule_state{{schedule="{LD}/ActPow_Res_FSCH01"}} 4.0' in text
        assert gw.stop() == 0
