"""`python -m relevent.ctl` against a real gateway: every command, its output and its exit code."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relevent.ports import free_port
from tests.daemon import Daemon
from tests.integration.mms_gateway import LD, gateway, open_client, open_value

CTL = [sys.executable, "-m", "relevent.ctl"]


@dataclass(frozen=True)
class Ports:
    """Where one gateway serves MMS and its HTTP API."""

    mms: int
    http: int

    def http_get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=10) as reply:
            return json.load(reply)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Ports]]:
    """One gateway (default model) shared by this module; tests use their own schedules."""
    with gateway(tmp_path_factory.mktemp("state")) as (daemon, args):
        http = next(line["port"] for line in daemon.lines if line.get("event") == "http listening")
        yield daemon, Ports(args.mms_port, http)


@pytest.fixture(scope="module")
def port(served: tuple[Daemon, Ports]) -> Ports:
    return served[1]


def ctl(port: Ports | int, *args: str) -> subprocess.CompletedProcess[str]:
    """relevent-ctl against `port` (a bare MMS port: no HTTP API there)."""
    ports = port if isinstance(port, Ports) else Ports(port, free_port())
    where = ["--port", str(ports.mms), "--http-url", f"http://127.0.0.1:{ports.http}"]
    return subprocess.run([*CTL, *where, *args], capture_output=True, text=True, timeout=60, check=False)


def ctl_json(port: Ports, *args: str, code: int = 0) -> Any:
    result = ctl(port, *args, "--json")
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout)


def _whole_second(lead_s: float) -> datetime:
    return datetime.fromtimestamp(math.ceil(time.time() + lead_s), UTC)


def _schedule(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in status["schedules"] if s["ref"] == f"{LD}/{name}")


def test_status_lists_every_controller_and_schedule(port: Ports) -> None:
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


def test_write_enable_forecast_and_watch_a_schedule(port: Ports) -> None:
    watch = subprocess.Popen(
        [*CTL, "--port", str(port.mms), "watch", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())  # the general interrogation: every member
        assert {e["reason"] for e in first["entries"]} == {"general-interrogation"}

        start = _whole_second(8)  # the write command starts a process: room for a busy machine (3 s was not)
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
def test_write_a_schedule_file(port: Ports, tmp_path: Path, file_name: str, content: str) -> None:
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


def test_a_refused_enable_exits_1_with_the_gateway_s_reason_and_the_codes_in_words(port: Ports) -> None:
    ctl_json(port, "write", "OnOff_FSCH07", "--values", "true", "--interval", "0", "--start", "+1h")
    refused = ctl_json(port, "enable", "OnOff_FSCH07", code=1)
    assert refused["mms_error"] == "object-value-invalid"
    assert (refused["add_cause"], refused["schd_ena_err"]) == ("inconsistent-parameters", 3)
    why = f"{LD}/OnOff_FSCH07 cannot be enabled: missing valid SchdIntv (it must be positive)"
    assert refused["because"] == why
    text = ctl(port, "enable", "OnOff_FSCH07")
    assert text.returncode == 1
    assert text.stderr.splitlines() == [
        f"relevent-ctl: error: {LD}/OnOff_FSCH07.EnaReq: refused: {why}",
        "  object-value-invalid (32): the gateway does not accept the value",
        ("  AddCause inconsistent-parameters (26): the schedule's parameters do not pass the gateway's"
        " validation"),
        "  SchdEnaErr 3: missing valid SchdIntv (it must be positive)",
    ]
    # Without the HTTP API the gateway's words cannot be had: the codes are decoded all the same.
    alone = ctl(port.mms, "enable", "OnOff_FSCH07")
    assert alone.stderr.splitlines()[0] == (
        f"relevent-ctl: error: {LD}/OnOff_FSCH07.EnaReq: refused: the gateway does not accept the value"
    )
    assert "  SchdEnaErr 3: missing valid SchdIntv (it must be positive)" in alone.stderr.splitlines()


def test_a_locked_enable_is_refused_with_the_gateway_s_reason(port: Ports) -> None:
    refused = ctl(port, "disable", "ActPow_Res_FSCH01")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == (
        f"relevent-ctl: error: {LD}/ActPow_Res_FSCH01.DsaReq: refused: "
        f"enable/disable of {LD}/ActPow_Res_FSCH01 is locked"
    )
    assert "AddCause blocked-by-mode (8): enable/disable is locked by the gateway's policy" in refused.stderr


def test_a_locked_reserve_parameter_is_refused_before_anything_is_written(
    served: tuple[Daemon, Ports],
) -> None:
    daemon, port = served
    value = f"{LD}/ActPow_Res_FSCH01.ValASG001.setMag.f"
    before = _served_value(port, value)
    audited = len(_audit(daemon))
    refused = ctl_json(port, "write", "ActPow_Res_FSCH01", "--values", "1", "--prio", "50", code=1)
    assert (refused["mms_error"], refused["reason"]) == (None, "access_denied")  # refused by the dry run
    assert refused["ref"] == f"{LD}/ActPow_Res_FSCH01.SchdPrio.setVal"
    assert refused["because"] == f"SchdPrio of {LD}/ActPow_Res_FSCH01 is locked"
    assert refused["written"] == []
    assert refused["not_written"] == [
        f"{LD}/ActPow_Res_FSCH01.SchdPrio.setVal", value, f"{LD}/ActPow_Res_FSCH01.NumEntr.setVal"
    ]
    assert _served_value(port, value) == before
    text = ctl(port, "write", "ActPow_Res_FSCH01", "--values", "1", "--prio", "50")
    assert "  nothing was written" in text.stderr.splitlines()
    assert _audit(daemon)[audited:] == []  # nothing was even sent


def test_an_enable_the_gateway_would_refuse_writes_nothing(served: tuple[Daemon, Ports]) -> None:
    daemon, port = served
    before = _schedule(ctl_json(port, "status"), "ActPow_FSCH07")
    audited = len(_audit(daemon))
    args = ["write", "ActPow_FSCH07", "--values", "5", "--interval", "0", "--start", "+5s", "--enable"]
    refused = ctl_json(port, *args, code=1)
    assert (refused["reason"], refused["schd_ena_err"], refused["written"]) == ("value_invalid", 3, [])
    assert refused["ref"] == f"{LD}/ActPow_FSCH07.EnaReq"
    why = "cannot be enabled: missing valid SchdIntv (it must be positive)"
    assert refused["because"] == f"{LD}/ActPow_FSCH07 {why}"
    assert _schedule(ctl_json(port, "status"), "ActPow_FSCH07") == before
    assert _audit(daemon)[audited:] == []


def test_forecast_is_the_gateway_s_own_after_a_write_into_the_running_entry(port: Ports) -> None:
    schedule = "MaxPow_FSCH07"
    ctl_json(port, "write", schedule, "--values", "11,12", "--interval", "600", "--prio", "80",
             "--start", "now", "--enable")  # fmt: skip
    source = f"{LD}/{schedule}"
    try:
        ctl_json(port, "write", schedule, "--values", "99,12")  # the entry in force: the gateway waits
        shown = ctl_json(port, "forecast", "MaxPow_FSCC1", "--hours", "0.5")["points"]
        assert [(p["value"], p["schedule"]) for p in shown[:2]] == [(11.0, source), (12.0, source)]
        own = port.http_get(f"/api/forecast?controller={LD}/MaxPow_FSCC1&hours=0.5")["points"]
    finally:
        ctl_json(port, "disable", schedule)
    assert [(p["value"], p["schedule"], p["prio"]) for p in shown] == [
        (p["value"], p["source"], p["priority"]) for p in own
    ]
    assert [p["time"] for p in shown[1:]] == [_iso_of(p["time"]) for p in own[1:]]


def test_write_needs_the_http_api_and_sends_nothing_without_it(served: tuple[Daemon, Ports]) -> None:
    daemon, port = served
    audited = len(_audit(daemon))
    result = ctl(port.mms, "write", "ActPow_FSCH06", "--prio", "3", "--json")
    assert result.returncode == 3
    assert "does not answer" in json.loads(result.stdout)["message"]
    assert _audit(daemon)[audited:] == []


def test_a_host_name_that_does_not_resolve_says_so() -> None:
    result = subprocess.run(
        [*CTL, "--host", "gateway.invalid", "status"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 3
    assert "cannot resolve the host name 'gateway.invalid'" in result.stderr


def _audit(daemon: Daemon) -> list[dict[str, Any]]:
    return [line for line in daemon.lines if line.get("event") == "audit"]


def _served_value(port: Ports, ref: str) -> Any:
    with open_client(port.mms) as client:
        item = ref.partition("/")[2]
        ln, _, path = item.partition(".")
        return open_value(client, f"{ln}$SP${path.replace('.', '$')}")


def _iso_of(t: float) -> str:
    return _iso(datetime.fromtimestamp(t, UTC))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["write", "Nope", "--prio", "1"], "no schedule 'Nope'"),
        (["write", "OnOff_FSCH08", "--values", "1.5"], "SPG schedules take true/false"),
        (["write", "ActPow_FSCH08", "--values", ",".join(["1"] * 101)], "has 100 value slots"),
        (["forecast", "ActPow_FSCH01"], "no controller 'ActPow_FSCH01'"),
    ],
)
def test_usage_errors_found_with_the_model_exit_2(port: Ports, args: list[str], message: str) -> None:
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
