"""The status page in headless Chromium: it loads, shows the running schedule's value and the device, and
marks the device's measurement stale once the device has gone silent for longer than the validity."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from relevent.demo.devices import SimulatedDevice
from relevent.lan.mqtt.topics import Topics
from tests.conftest import REPO
from tests.integration.gateway import LD, Schedule, connect, gateway, next_second, program
from tests.mosquitto import Broker

ARTIFACTS = REPO / "test-artifacts"
VALUE = 2.5  # kW in the model, 2500 W in the device command
CONFIG = """
[gateway]
id = "gw1"
[mqtt]
heartbeat_s = 1.0
[[devices]]
id = "bat1"
class = "battery"
w_set = "@Control/ActPow_FSCC1"
w_max_lim = "@Control/MaxPow_FSCC1"
on = "@Control/OnOff_FSCC1"
"""
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=4000", "--window-size=1280,1150",
)  # fmt: skip


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # `make test` installs Debian's chromium: its absence is a broken set-up
        pytest.fail("chromium is not installed (apt-get install chromium)")
    return found


def screenshot(url: str, profile: Path, name: str) -> Path:
    """The page at `url` as `test-artifacts/<name>`, taken afresh."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    browse(url, profile, f"--screenshot={shot}")
    return shot


def browse(url: str, profile: Path, *extra: str) -> str:
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return result.stdout


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


def _status(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
        data: dict[str, object] = json.load(reply)
        return data


@pytest.mark.slow
async def test_status_page_shows_the_running_schedule_in_headless_chromium(
    broker: Broker, tmp_path: Path
) -> None:
    with gateway(broker, tmp_path, CONFIG) as gw:
        device = SimulatedDevice("bat1", Topics("relevent/v1", "gw1"), broker.host, broker.port, rated_w=5000)
        simulation = asyncio.create_task(device.run())
        try:
            client = await asyncio.to_thread(connect, gw.mms_port)
            schedule = Schedule("ActPow_FSCH01", [VALUE] * 60, next_second(1.0), intv_s=1, prio=42)
            await asyncio.to_thread(program, client, schedule)
            client.close()
            gw.daemon.wait_for("audit")
            await _until(lambda: _controller(_status(gw.http_port))["value"] == VALUE)
            await _until(lambda: device.command is not None and device.command.w_set == VALUE * 1000)
            url = f"http://127.0.0.1:{gw.http_port}/"
            plain = await asyncio.to_thread(_fetch, url)  # what a browser without JavaScript gets
            dom = await asyncio.to_thread(browse, url, tmp_path / "profile", "--dump-dom")
            shot = await asyncio.to_thread(screenshot, url + "#5m", tmp_path / "profile2", "status-page.png")
            five = await asyncio.to_thread(browse, url + "#5m", tmp_path / "profile4", "--dump-dom")
            simulation.cancel()  # the device goes silent: after validity_s (2 s here) its data are stale
            await _until(lambda: "measurement" in _device(_status(gw.http_port))["stale"])
            silent = await asyncio.to_thread(browse, url, tmp_path / "profile3", "--dump-dom")
        finally:
            simulation.cancel()
    card = dom.split(f'data-controller="{LD}/ActPow_FSCC1"', 1)[1].split("</div>", 3)
    assert f"{VALUE} kW" in card[1] + card[2]  # with the model's unit
    switch = dom.split(f'data-controller="{LD}/OnOff_FSCC1"', 1)[1].split("</div>", 3)
    assert ">on<" in switch[1] + switch[2] or ">off<" in switch[1] + switch[2] or "no value" in switch[1]
    _schedules_shown(dom)
    essentials = plain.split("<noscript>", 1)[1].split("</noscript>", 1)[0]
    assert "<p>ready · gateway gw1</p>" in essentials
    assert f"<li>ActPow_FSCC1: {VALUE:g} kW (ActPow_FSCH01, priority 42)</li>" in essentials
    assert "<li>device bat1 (mqtt): " in essentials
    assert 'data-device="bat1"' in dom
    # its measured power drawn against what it was asked
    trace = dom.split('data-device="bat1"', 1)[1].split('<svg class="trace"', 1)[1].split("</svg>", 1)[0]
    assert f"<title>w_set {VALUE * 1000:g} W</title>" in trace
    assert "<title>measured " in trace
    assert f"w_set {VALUE * 1000:g}" in dom
    assert ">ready<" in dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the 5-minute window: the running schedule's step, named on hover, solid before now, dashed after
    timeline = five.split(f'data-controller="{LD}/ActPow_FSCC1"', 1)[1].split("</svg>", 1)[0]
    assert f"<title>{VALUE} kW · ActPow_FSCH01 · priority 42</title>" in timeline
    assert 'class="step ahead"' in timeline
    assert 'class="chosen" href="#5m"' in five or 'href="#5m" class="chosen"' in five
    _audit_and_upstream_shown(dom)
    measurement = silent.split('data-datum="measurement">', 1)[1].split("</td>", 1)[0]
    assert measurement.endswith("ago · stale")
    assert '<td class="bad" data-datum="measurement">' in silent



def _schedules_shown(dom: str) -> None:
    """The controller's active schedule marked, the idle ones folded away."""
    running = dom.split(f'data-schedule="{LD}/ActPow_FSCH01"', 1)[1].split("</tr>", 1)[0]
    assert running.startswith(' class="active"')  # the controller's active schedule, marked
    folded = dom.split('<details id="idle">', 1)[1].split("</details>", 1)[0]
    assert "idle schedules (not ready, unused)" in folded
    assert f'data-schedule="{LD}/ActPow_FSCH02"' in folded  # programmed by nobody: folded away
    assert f'data-schedule="{LD}/ActPow_FSCH01"' not in folded
    assert "ActPow_FSCH01 · priority 42" in dom


def _audit_and_upstream_shown(dom: str) -> None:
    """The SCADA's writes in the audit view with the trail's state, the upstream side with its actor."""
    assert '<span id="trail" class="ok">chain verified at start · head ' in dom
    audit = dom.split('<table id="audit">', 1)[1].split("</table>", 1)[0]
    assert "ActPow_FSCH01.SchdPrio.setVal" in audit or "ActPow_FSCH01.EnaReq" in audit
    assert ">0 → 42<" in audit  # the priority written, old and new
    assert "MMS clients 0 · IEC 104 connections off · HEDERA off" in dom
    assert '<tr data-actor="mms">' in dom  # an anonymous MMS client: its newest command


def _device(status: dict[str, object]) -> dict[str, Any]:
    devices = status["devices"]
    assert isinstance(devices, list)
    device: dict[str, Any] = devices[0]
    return device


def _controller(status: dict[str, object]) -> dict[str, object]:
    controllers = status["controllers"]
    assert isinstance(controllers, list)
    return next(c for c in controllers if c["ref"] == f"{LD}/ActPow_FSCC1")


async def _until(condition: object, wait_s: float = 10.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + wait_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)
