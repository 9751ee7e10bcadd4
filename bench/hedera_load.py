"""MMS read latency and device boundary lateness of the real gateway while HEDERA hangs every request.

mosquitto and the daemon run as their own processes with `[hedera]` pointed at the fake HEDERA, which runs
here; a libiec61850 client in its own process times MMS reads; the device (MQTT, here) follows a SCADA
schedule of 1 s entries with alternating values, so every boundary is a command whose lateness is its
arrival minus the nominal boundary. Three phases of `--seconds`, alternating `--rounds` times: quiet (no EMS
request); the EMS sending a
new request twice a second, each superseding the last, with HEDERA answering; the same EMS traffic with
HEDERA hanging every call (token, POST, GET, list), so the adapter keeps many calls open until their
timeouts. Prints p50/p99/max per phase, asserts nothing: a hanging HEDERA must leave both as they are
with HEDERA answering (within 10 %). The quiet phase shows what the EMS's requests themselves cost (each
is audited and stored, durably, before it is answered).

Usage: `.venv/bin/python -m bench.hedera_load [--seconds 10] [--rounds 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
MAX_ENTRIES = 100  # the SCADA's schedule, one entry a second
PHASES = ("quiet", "hedera answers", "hedera hangs")


async def run(seconds: float, rounds: int) -> list[Row]:
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
                    return await measure(fake, broker, args.mms_port, seconds, rounds)
            finally:
                broker.kill()


async def measure(fake: FakeHedera, broker: Broker, port: int, seconds: float, rounds: int) -> list[Row]:
    entries = math.ceil(len(PHASES) * rounds * seconds) + 10
    assert entries <= MAX_ENTRIES, f"{entries} s of 1 s entries: a schedule holds {MAX_ENTRIES}"
    values = [float(1 + entry % 2) for entry in range(entries)]
    start = float(math.ceil(time.time() + 2))
    await scada_programs(port, Schedule("ActPow_FSCH01", values, start, prio=90))
    client = IecClient()
    reads: dict[str, list[float]] = {name: [] for name in PHASES}
    lateness: dict[str, list[float]] = {name: [] for name in PHASES}
    try:
        await client.call("connect", "127.0.0.1", port)
        async with mqtt_client(broker, COMMANDS) as (ems, inbox):
            await asyncio.sleep(start + 0.5 - time.time())
            # The phases alternate, `rounds` times: what the shared machine does meanwhile spreads over all.
            for _, name in itertools.product(range(rounds), PHASES):
                fake.clear()
                for endpoint in ENDPOINTS if name == "hedera hangs" else ():
                    fake.hang(endpoint)
                while not inbox.queue.empty():  # commands of the phase before
                    inbox.queue.get_nowait()
                collector = asyncio.create_task(follow(inbox, start, values, lateness[name]))
                asker = asyncio.create_task(ask(ems, start, name)) if name != "quiet" else None
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    reads[name] += await client.call("timed", "read", READ, READS_PER_PHASE // 10)
                    await asyncio.sleep(seconds / 10)
                for task in (collector, asker):
                    if task is not None:
                        task.cancel()
    finally:
        client.close()
    return [row for name in PHASES for row in (
        Row("hedera load", f"mms read, {name}", "ms", tuple(t * 1e3 for t in reads[name])),
        Row("hedera load", f"device boundary lateness, {name}", "ms", tuple(lateness[name])),
    )]  # fmt: skip


async def ask(ems: aiomqtt.Client, start: float, phase: str) -> None:
    """A new EMS request twice a second (each supersedes the one before)."""
    n = 0
    while True:
        tag = phase.replace(" ", "-")
        body = {"id": f"{tag}-{n}", "direction": "IMPORT", "start": {"seconds": int(start) + 600, "nanos": 0},
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


def collect(seconds: float = 10.0, rounds: int = 3) -> list[Row]:
    """The three phases, `seconds` each, `rounds` times."""
    return asyncio.run(run(seconds, rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="how often the three phases run")
    options = parser.parse_args()
    print_rows(collect(options.seconds, options.rounds))


if __name__ == "__main__":
    main()
