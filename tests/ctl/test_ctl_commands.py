"""`python -m relevent.ctl` against a real gateway: every command, its output and its exit code."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relevent.ports import free_port
from tests.daemon import Daemon, GatewayArgs
from tests.integration.mms_gateway import LD, gateway

CTL = [sys.executable, "-m", "relevent.ctl"]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The MMS port of one gateway (default model) shared by this module; tests use their own schedules."""
    served: tuple[Daemon, GatewayArgs]
    with gateway(tmp_path_factory.mktemp("state")) as served:
        yield served[1].mms_port


def ctl(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CTL, "--port", str(port), *args], capture_output=True, text=True, timeout=60, check=False
    )


def ctl_json(port: int, *args: str, code: int = 0) -> Any:
    result = ctl(port, *args, "--json")
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout)


def _whole_second(lead_s: float) -> datetime:
    return datetime.fromtimestamp(math.ceil(time.time() + lead_s), UTC)


def _schedule(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in status["schedules"] if s["ref"] == f"{LD}/{name}")


def test_status_lists_every_controller_and_schedule(port: int) -> None:
    status = ctl_json(port, "status")
    assert [c["ref"] for c in status["controllers"]] == [
        f"{LD}/{f}_FSCC1" for f in ("ActPow", "MaxPow", "OnOff")
    ]
    assert len(status["schedules"]) == 33
    actpow = status["controllers"][0]
    assert actpow["active_schedule"] == f"{LD}/ActPow_Res_FSCH01"
    assert actpow["output"]["quality"] == "good"
    assert actpow["schedules"][-1] == f"{LD}/ActPow_Res_FSCH01"
    reserve = _schedule(status, "ActPow_Res_FSCH01")
    assert (reserve["state"], reserve["entry"], reserve["interval_s"]) == ("running", 1, 3600)
    assert _schedule(status, "ActPow_FSCH09")["state"] == "not-ready"

    table = ctl(port, "status")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["CONTROLLER", "ACTIVE", "SCHEDULE", "OUTPUT", "SINCE"]
    assert any(line.split()[:3] == ["ActPow_Res_FSCH01", "running", "0"] for line in lines)


def test_write_enable_forecast_and_watch_a_schedule(port: int) -> None:
    watch = subprocess.Popen(
        [*CTL, "--port", str(port), "watch", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())  # the general interrogation: every member
        assert {e["reason"] for e in first["entries"]} == {"general-interrogation"}

        start = _whole_second(3)  # the write command starts a process: room for a busy machine
        written = ctl_json(
            port, "write", "@Control/ActPow_FSCH09", "--values", "11,12", "--interval", "1",
            "--prio", "70", "--start", start.isoformat(), "--enable",
        )  # fmt: skip
        assert written["enabled"] is True
        assert len(written["written"]) == 6

        points = ctl_json(port, "forecast", "ActPow_FSCC1", "--hours", "1")["points"]
        changes = [(p["time"], p["value"], p["schedule"]) for p in points[1:]]
        assert changes[:3] == [
            (_iso(start), 11.0, f"{LD}/ActPow_FSCH09"),
            (_iso(start + timedelta(seconds=1)), 12.0, f"{LD}/ActPow_FSCH09"),
            (_iso(start + timedelta(seconds=2)), 0.0, f"{LD}/ActPow_Res_FSCH01"),
        ]

        outputs: list[tuple[float, str]] = []
        while len(outputs) < 3:
            report = json.loads(watch.stdout.readline())
            outputs += [
                (e["value"], e["t"]) for e in report["entries"] if e["ref"] == f"{LD}/ActPow_FSCC1.ValMV"
            ]
        assert outputs == [
            (11.0, _iso(start)),
            (12.0, _iso(start + timedelta(seconds=1))),
            (0.0, _iso(start + timedelta(seconds=2))),
        ]
    finally:
        watch.send_signal(signal.SIGINT)
        assert watch.wait(10) == 0


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("file_name", "content"),
    [
        ("s.json", '{"values": [1, 2, 3], "interval": 60, "prio": 20, "start": "+1h", "enable": true}'),
        ("s.csv", "time,value\n{t0},1\n{t1},2\n{t2},3\n"),
    ],
)
def test_write_a_schedule_file(port: int, tmp_path: Path, file_name: str, content: str) -> None:
    t0 = _whole_second(3600)
    path = tmp_path / file_name
    for i in range(3):
        content = content.replace(f"{{t{i}}}", (t0 + timedelta(minutes=i)).isoformat())
    path.write_text(content)
    schedule = "MaxPow_FSCH05" if file_name.endswith("json") else "MaxPow_FSCH06"
    extra = [] if file_name.endswith("json") else ["--prio", "20", "--enable"]
    ctl_json(port, "write", schedule, "--file", str(path), *extra)
    written = _schedule(ctl_json(port, "status"), schedule)
    assert (written["state"], written["num_entr"], written["interval_s"], written["prio"]) == (
        "ready",
        3,
        60,
        20,
    )
    assert written["next_start"] is not None

    assert ctl_json(port, "disable", schedule) == {"schedule": f"{LD}/{schedule}", "enabled": False}
    assert _schedule(ctl_json(port, "status"), schedule)["state"] == "not-ready"
    assert ctl_json(port, "enable", schedule) == {"schedule": f"{LD}/{schedule}", "enabled": True}


def test_a_refused_enable_exits_1_with_the_mms_error_add_cause_and_schd_ena_err(port: int) -> None:
    ctl_json(port, "write", "OnOff_FSCH07", "--values", "true", "--interval", "0", "--start", "+1h")
    refused = ctl_json(port, "enable", "OnOff_FSCH07", code=1)
    assert refused["mms_error"] == "object-value-invalid"
    assert (refused["add_cause"], refused["schd_ena_err"]) == ("inconsistent-parameters", 3)
    text = ctl(port, "enable", "OnOff_FSCH07")
    assert text.returncode == 1
    assert "object-value-invalid (32), AddCause inconsistent-parameters (26), SchdEnaErr 3" in text.stderr


def test_a_locked_reserve_parameter_exits_1_with_access_denied(port: int) -> None:
    refused = ctl_json(port, "write", "ActPow_Res_FSCH01", "--prio", "9", code=1)
    assert (refused["error"], refused["mms_error"]) == ("RefusedError", "access-denied")
    assert refused["ref"] == f"{LD}/ActPow_Res_FSCH01.SchdPrio.setVal"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["write", "Nope", "--prio", "1"], "no schedule 'Nope'"),
        (["write", "OnOff_FSCH08", "--values", "1.5"], "SPG schedules take true/false"),
        (["write", "ActPow_FSCH08", "--values", ",".join(["1"] * 101)], "has 100 value slots"),
        (["forecast", "ActPow_FSCH01"], "no controller 'ActPow_FSCH01'"),
    ],
)
def test_usage_errors_found_with_the_model_exit_2(port: int, args: list[str], message: str) -> None:
    result = ctl(port, *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["write", "ActPow_FSCH01", "--start", "tomorrow"], "not ISO 8601"),
        (["write", "ActPow_FSCH01"], "write needs"),
        (["frobnicate"], "invalid choice"),
        (["forecast"], "the following arguments are required"),
    ],
)
def test_usage_errors_exit_2_before_connecting(args: list[str], message: str) -> None:
    result = ctl(free_port(), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_no_gateway_exits_3() -> None:
    result = ctl(free_port(), "status", "--json")
    assert result.returncode == 3
    assert json.loads(result.stdout)["error"] == "UnreachableError"
    assert "cannot connect" in result.stderr
