"""MMS read latency and device boundary lateness of the real gateway while HEDERA hangs every request.

mosquitto and the daemon run as their own processes with `[hedera]` pointed at the fake HEDERA, which runs
here; a libiec61850 client in its own process times MMS reads; the device (MQTT, here) follows a SCADA
schedule of 1 s entries with alternating values, so every boundary is a command whose lateness is its
arrival minus the nominal boundary. Two phases of `--seconds`: HEDERA answering and idle; HEDERA hanging
every call (token, POST, GET, list) while the EMS sends a new request twice a second, each superseding the
last, so the adapter keeps many calls open until their timeouts. Prints p50/p99/max per phase, asserts
nothing: the adapter must leave both unchanged (within 10 %).

Usage: `.venv/bin/python -m bench.hedera_load [--seconds 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from pathlib import Path

import aiomqtt

from bench.common import Row, print_rows
from relevent.demo.hedera import REQUESTS
from relevent.demo.hedera_server import ENDPOINTS, FakeHedera, Script
from tests.daemon import GatewayArgs, running
from tests.hedera.site import config, fake_hedera
from tests.integration.gateway import COMMANDS, KW, LD, Schedule, scada_programs
from tests.mms.iec_client import IecClient
from tests.mosquitto import Broker, Inbox, mqtt_client

READ = (f"{LD}/ActPow_FSCC1.ValMV.mag.f", "MX")
READS_PER_PHASE = 1000
PHASES = ("hedera idle", "hedera hangs")


async def run(seconds: float) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        async with fake_hedera(root) as (fake, secret):
            fake.script(Script(polls=None))
            toml = root / "gw.toml"
            toml.write_text(config(fake, secret, heartbeat_s=3600))  # no keep-alive between boundaries
            broker = Broker(root, "allow_anonymous true\n")
            broker.start()
            args = GatewayArgs(root / "state", mqtt_url=broker.url, extra=("--config", str(toml)))
            try:
                with running(args.argv()) as daemon:
                    daemon.wait_for("gateway running", 60)
                    return await measure(fake, broker, args.mms_port, seconds)
            finally:
                broker.kill()


async def measure(fake: FakeHedera, broker: Broker, port: int, seconds: float) -> list[Row]:
    entries = math.ceil(len(PHASES) * seconds) + 10
    values = [float(1 + entry % 2) for entry in range(entries)]
    start = float(math.ceil(time.time() + 2))
    await scada_programs(port, Schedule("ActPow_FSCH01", values, start, prio=90))
    client = IecClient()
    rows: list[Row] = []
    try:
        await client.call("connect", "127.0.0.1", port)
        async with mqtt_client(broker, COMMANDS) as (ems, inbox):
            await asyncio.sleep(start + 0.5 - time.time())
            for name in PHASES:
                hanging = name == "hedera hangs"
                for endpoint in ENDPOINTS if hanging else ():
                    fake.hang(endpoint)
                while not inbox.queue.empty():  # commands of the phase before
                    inbox.queue.get_nowait()
                lateness: list[float] = []
                collector = asyncio.create_task(follow(inbox, start, values, lateness))
                asker = asyncio.create_task(ask(ems, start)) if hanging else None
                until = time.monotonic() + seconds
                reads: list[float] = []
                while time.monotonic() < until:
                    reads += await client.call("timed", "read", READ, READS_PER_PHASE // 10)
                    await asyncio.sleep(seconds / 10)
                for task in (collector, asker):
                    if task is not None:
                        task.cancel()
                rows.append(Row("hedera load", f"mms read, {name}", "ms", tuple(t * 1e3 for t in reads)))
                rows.append(Row("hedera load", f"device boundary lateness, {name}", "ms", tuple(lateness)))
    finally:
        client.close()
    return rows


async def ask(ems: aiomqtt.Client, start: float) -> None:
    """A new EMS request twice a second (each supersedes the one before)."""
    n = 0
    while True:
        body = {"id": f"load-{n}", "direction": "IMPORT", "start": {"seconds": int(start) + 600, "nanos": 0},
                "resolution": "FIVE_MINUTES", "values": [3000.0] * 4}  # fmt: skip
        await ems.publish(REQUESTS, json.dumps(body), qos=1)
        n += 1
        await asyncio.sleep(0.5)


async def follow(inbox: Inbox, start: float, values: list[float], lateness: list[float]) -> None:
    """The lateness of every command at the device, ms after its nominal boundary."""
    while True:
        command = json.loads((await inbox.queue.get()).payload)
        arrived = time.time()
        entry = math.floor(arrived - start)
        if entry < 0 or "w_set" not in command:
            continue
        if command["w_set"] / KW != values[entry]:  # up to one entry late: values alternate
            entry -= 1
        lateness.append((arrived - start - entry) * 1000)


def collect(seconds: float = 20.0) -> list[Row]:
    """Both phases, `seconds` each."""
    return asyncio.run(run(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    print_rows(collect(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
