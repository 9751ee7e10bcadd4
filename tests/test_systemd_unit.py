"""The shipped systemd unit: systemd-analyze accepts it installed, it carries the hardening we promise, its
credentials are optional, and every system call of a real gateway session passes its filter."""

from __future__ import annotations

import codecs
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from relevent.config import load_settings
from tests.conftest import REPO
from tests.daemon import Daemon, GatewayArgs
from tests.install import GUIDE
from tests.mosquitto import Broker

UNIT = REPO / "systemd" / "relevent-gw.service"
# `systemd-analyze security` of the unit (0 best, 10 worst), as the operator guide states it.
EXPOSURE = "1.4"


def _settings(section: str) -> list[tuple[str, str]]:
    """The `key=value` lines of one section, in order (a key may repeat: each line is kept)."""
    found: list[tuple[str, str]] = []
    current = None
    for line in UNIT.read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.append((key, value))
    return found


def _values(section: str, key: str) -> list[str]:
    return [value for k, value in _settings(section) if k == key]


def _analyze() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine (make test installs systemd)")
    return analyze


def test_unit_declares_notify_watchdog_restart_and_hardening() -> None:
    service = dict(_settings("Service"))
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
        "ProtectProc": "invisible",
        "ProcSubset": "pid",
        "RemoveIPC": "yes",
        "PrivateMounts": "yes",
        "SystemCallErrorNumber": "EPERM",
    }
    for key, value in expected.items():
        assert service.get(key) == value, key
    assert _values("Service", "SystemCallFilter") == ["@system-service", "~@privileged @resources"]


def test_every_credential_is_optional_and_its_default_leaves_the_secret_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = [value.split(":", 1)[0] for value in _values("Service", "LoadCredential")]
    defaults = dict(value.split(":", 1) for value in _values("Service", "SetCredential"))
    assert loaded == ["mqtt__password"]
    assert set(loaded) <= set(defaults)  # systemd: a missing LoadCredential= file falls back to them
    credentials = tmp_path / "credentials"  # what systemd hands over when no file was installed
    credentials.mkdir()
    for name, value in defaults.items():
        (credentials / name).write_text(codecs.decode(value, "unicode_escape"))  # SetCredential= C escapes
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert load_settings().mqtt.password is None  # an anonymous broker: no password sent


def test_the_documentation_it_names_is_installed_by_the_guide(installed: Path) -> None:
    [uri] = _values("Unit", "Documentation")
    assert uri.startswith("file:")
    assert (installed / uri.removeprefix("file:").lstrip("/")).is_file()


def test_systemd_analyze_verify_accepts_the_unit_installed_as_the_guide_does(installed: Path) -> None:
    result = subprocess.run(
        [_analyze(), "verify", "--man=no", f"--root={installed}", "/etc/systemd/system/relevent-gw.service"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_systemd_analyze_security_exposure_is_the_documented_one() -> None:
    result = subprocess.run([_analyze(), "security", "--offline=yes", str(UNIT)],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    found = re.search(r"Overall exposure level for relevent-gw\.service: (\d+\.\d+)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    assert found.group(1) == EXPOSURE
    assert f"`systemd-analyze security` exposure {EXPOSURE}" in GUIDE.read_text()


def _syscalls(group: str, analyze: str) -> set[str]:
    """The system calls of a `@group`, nested groups expanded."""
    listing = subprocess.run([analyze, "syscall-filter", group], capture_output=True, text=True, check=True)
    names: set[str] = set()
    for line in listing.stdout.splitlines()[1:]:
        word = line.strip()
        if word and not word.startswith("#"):
            names |= _syscalls(word, analyze) if word.startswith("@") else {word}
    return names


def _allowed(analyze: str) -> set[str]:
    """What the unit's `SystemCallFilter=` lines allow: the allow list, minus every `~` line."""
    allowed: set[str] = set()
    for value in _values("Service", "SystemCallFilter"):
        names: set[str] = set()
        for name in value.lstrip("~").split():
            names |= _syscalls(name, analyze) if name.startswith("@") else {name}
        allowed = allowed - names if value.startswith("~") else allowed | names
    return allowed


@pytest.mark.slow
def test_every_system_call_of_a_gateway_session_passes_the_units_filter(
    tmp_path: Path, broker: Broker
) -> None:
    """Start, devices over MQTT, a SCADA client over MMS, stop: all under strace."""
    analyze, strace = _analyze(), shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed on this machine (make test installs it)")
    summary = tmp_path / "syscalls"
    args = GatewayArgs(tmp_path / "state", mqtt_url=broker.url)
    program = [strace, "-f", "-c", "-o", str(summary), sys.executable, "-m", "relevent"]
    traced = Daemon(args.argv(), program=program)
    try:
        traced.wait_for("mqtt connected", timeout=60)
        traced.wait_for("gateway running", timeout=60)
        ctl = subprocess.run([sys.executable, "-m", "relevent.ctl", "--port", str(args.mms_port), "status"],
                             capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        assert ctl.returncode == 0, ctl.stderr
        [gateway] = Path(f"/proc/{traced.proc.pid}/task/{traced.proc.pid}/children").read_text().split()
        os.kill(int(gateway), signal.SIGTERM)
        assert traced.proc.wait(30) == 0
    finally:
        if traced.proc.poll() is None:
            traced.proc.kill()
    # strace -c: one row per system call, "% time  seconds  usecs/call  calls  [errors]  syscall"
    used = set(re.findall(r"^\s*\d+\.\d+\s.*\s(\w+)$", summary.read_text(), re.MULTILINE)) - {"total"}
    if os.geteuid() == 0:
        used.discard("fchown")  # SQLite gives its journal the database's owner only as root; the unit: a user
    assert used, summary.read_text()
    assert used <= _allowed(analyze), sorted(used - _allowed(analyze))
