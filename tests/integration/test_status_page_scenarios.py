"""The status page in headless Chromium on the demo's scenario and on a site of a hundred devices.

Screenshots go to `test-artifacts/`: the demo's schedules, limit and disconnect at the 5-minute window,
and the page of a hundred devices.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from relevent.ports import free_port
from relevent.scl.generate import GeneratorOptions, write_scl
from tests.integration.gateway import LD, gateway
from tests.integration.test_status_page import browse, screenshot
from tests.mosquitto import Broker

pytestmark = pytest.mark.slow

SHOWN_WITHIN_S = 2.0  # from the SCADA's write to the live feed carrying it
DSO_STEP = "2.5 kW · MaxPow_FSCH01 · priority 60"


@asynccontextmanager
async def demo(http_port: int) -> AsyncIterator[asyncio.StreamReader]:
    """`relevent-gw demo` until the block ends; its output to read."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relevent", "demo", "--mms-port", str(free_port()),
        "--http-port", str(http_port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        yield process.stdout
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(40):
            await process.wait()


async def line_with(stream: asyncio.StreamReader, text: str, wait_s: float = 60.0) -> str:
    async with asyncio.timeout(wait_s):
        while text not in (line := (await stream.readline()).decode()):
            assert line, f"the demo ended before saying {text!r}"
    return line


async def feed_shows(http_port: int, step: str) -> None:
    """Until the live feed's MaxPow controller holds `step` (named as the page names it on hover)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"http://127.0.0.1:{http_port}/api/live?window=5m"
    ) as socket:
        async for message in socket:
            item = json.loads(message.data)["lists"]["controllers"]["items"].get(f"{LD}/MaxPow_FSCC1")
            points = [] if item is None else item["history"] + item["forecast"]
            if any(f"{p['value']:g} kW · {p['source'].rpartition('/')[2]} · priority {p['priority']}" == step
                   for p in points if p["source"]):  # fmt: skip
                return


async def test_the_demos_dso_limit_and_disconnect_show_on_the_page(tmp_path: Path) -> None:
    http_port = free_port()
    async with demo(http_port) as output:
        await line_with(output, "SCADA wrote MaxPow_FSCH01")
        written = time.monotonic()
        async with asyncio.timeout(10):
            await feed_shows(http_port, DSO_STEP)
        shown_s = time.monotonic() - written
        await line_with(output, "SCADA wrote OnOff_FSCH01")
        url = f"http://127.0.0.1:{http_port}/#5m"
        dom = await asyncio.to_thread(browse, url, tmp_path / "profile", "--dump-dom")
        shot = await asyncio.to_thread(screenshot, url, tmp_path / "profile2", "status-page-demo.png")
    assert shown_s <= SHOWN_WITHIN_S, f"the DSO limit reached the page's feed after {shown_s:.2f} s"
    timeline = dom.split(f'data-controller="{LD}/MaxPow_FSCC1"', 1)[1].split("</svg>", 1)[0]
    assert f"<title>{DSO_STEP}</title>" in timeline
    switch = dom.split(f'data-controller="{LD}/OnOff_FSCC1"', 1)[1].split("</svg>", 1)[0]
    assert "off · OnOff_FSCH01 · priority 90" in switch or 'class="band ahead"' in switch
    for device in ("bat1", "evse1", "cs1", "pv1"):  # every protocol's device in one table
        assert f'data-device="{device}"' in dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_hundred_devices_on_one_page(broker: Broker, tmp_path: Path) -> None:
    scl = write_scl(GeneratorOptions(devices=100), tmp_path / "site100.cid")
    with gateway(broker, tmp_path, scl=scl) as gw:
        url = f"http://127.0.0.1:{gw.http_port}/#5m"
        dom = await asyncio.to_thread(browse, url, tmp_path / "profile", "--dump-dom")
        shot = await asyncio.to_thread(screenshot, url, tmp_path / "profile2", "status-page-100.png")
    devices = dom.split('<table id="devices">', 1)[1].split("</table>", 1)[0]
    assert devices.count("<tr data-device=") == 100
    cards = dom.split('<div id="controllers"', 1)[1].split("<h2>", 1)[0]
    muted = '<div class="muted">'
    titles = [c.split(muted, 1)[1].split("</div>", 1)[0] for c in cards.split('class="card"')[1:]]
    assert len(titles) >= 300  # three controllers a device ...
    assert len(set(titles)) == len(titles)  # ... each named with its logical device
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
