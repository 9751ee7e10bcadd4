"""The shipped systemd unit: systemd-analyze accepts it and it carries the hardening we promise."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

UNIT = REPO / "systemd" / "relevent-gw.service"


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_unit_declares_notify_watchdog_restart_and_hardening() -> None:
    service = _unit()["Service"]
    expected = {
        "Type": "notify",
        "WatchdogSec": "30",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "78",
        "StateDirectory": "relevent-gw",
        "ConfigurationDirectory": "relevent-gw",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "User": "relevent-gw",
    }
    for key, value in expected.items():
        assert service[key] == value, key
    assert service["LoadCredential"].startswith("mqtt__password:")


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # verify checks that ExecStart's binary exists; point it at this checkout's interpreter.
    unit = tmp_path / "relevent-gw.service"
    text = UNIT.read_text().replace("/opt/relevent-gw/bin/relevent-gw", f"{sys.executable} -m relevent")
    unit.write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    problems = [
        line for line in result.stderr.splitlines()
        if "relevent-gw.service" in line and "mosquitto.service" not in line
    ]
    assert not problems, result.stderr
