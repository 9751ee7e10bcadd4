"""Entry boundaries and memory of the real gateway under load: an MQTT flood, five MMS clients at full rate.

mosquitto, the daemon and the flood publisher (`bench/flood.py`, so that it shares no event loop with the
measuring device) run as their own processes; a device (MQTT) and the five SCADA clients (open61850, one
thread each) run here. A schedule with 1 s entries of alternating values makes every boundary a command;
its lateness is the command's arrival at the device minus the nominal boundary (one host, one clock).
Phases of `--seconds` each: idle; five MMS clients reading and writing as fast as they are answered; an
MQTT flood (`--rate` `meas` messages per second on the device's topic, 1 in 10 malformed); both together;
idle again. The daemon's RSS is sampled every second. Prints the lateness p50/p99/max and RSS per phase,
the achieved flood and MMS rates, and the core count; asserts nothing. Commands more than one entry late
are not matched to a boundary: `n` then falls below the phase's boundaries.

Usage: `.venv/bin/python bench/resilience_load.py [--seconds 10] [--rate 10000]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' daemon, broker and clients

from open61850.data import FloatData

from tests.daemon import Daemon, GatewayArgs, rss_kb, running
from tests.integration.gateway import COMMANDS, KW, LD, ROOT, Schedule, connect, read, scada_programs, write
from tests.mosquitto import Broker, Inbox, mqtt_client

CLIENTS = 5
PHASES = ("idle", "5 mms clients", "mqtt flood", "flood + mms", "idle again")


@dataclass
class Phase:
    name: str
    started: float
    lateness_ms: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    published: int = 0
    mms_requests: int = 0


def mms_load(port: int, stop: threading.Event, counter: list[int]) -> None:
    """One SCADA client reading and writing a schedule that never runs, as fast as it is answered."""
    client = connect(port)
    try:
        n = 0
        while not stop.is_set():
            item = f"ActPow_FSCH{2 + n % 8:02d}$SP$ValASG001$setMag$f"
            if n % 2:
                write(client, LD, item, FloatData(float(n % 100)))
            else:
                read(client, item)
            n += 1
        counter.append(n)
    finally:
        client.close()


def start_flood(broker: Broker, rate: int, seconds: float) -> subprocess.Popen[str]:
    """`bench/flood.py` on the device's `meas` topic for the phase; it prints how many it published."""
    argv = [sys.executable, "-m", "bench.flood", broker.host, str(broker.port), f"{ROOT}/meas"]
    return subprocess.Popen([*argv, str(rate), str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])  # fmt: skip


async def run(seconds: float, rate: int) -> list[Phase]:
    with tempfile.TemporaryDirectory() as directory:
        broker = Broker(Path(directory), "allow_anonymous true\n")
        broker.start()
        toml = Path(directory) / "gw.toml"
        # No keep-alive during the run: carrying the value in force, it would pass for a late boundary.
        toml.write_text("[mqtt]\nheartbeat_s = 3600\n")
        args = GatewayArgs(Path(directory) / "state", mqtt_url=broker.url, extra=("--config", str(toml)))
        try:
            with running(args.argv()) as daemon:  # its log is drained by the helper's threads
                daemon.wait_for("mqtt connected", 30)
                return await measure(daemon, args.mms_port, broker, seconds, rate)
        finally:
            broker.kill()


async def measure(daemon: Daemon, port: int, broker: Broker, seconds: float, rate: int) -> list[Phase]:
    entries = math.ceil(len(PHASES) * seconds) + 5
    values = [float(1 + entry % 2) for entry in range(entries)]  # every boundary changes the output
    start = float(math.ceil(time.time() + 2))
    await scada_programs(port, Schedule("ActPow_FSCH01", values, start, prio=90))
    phases: list[Phase] = []
    async with mqtt_client(broker, COMMANDS) as (_, inbox):
        collector = asyncio.create_task(collect(inbox, start, values, phases))
        await asyncio.sleep(start + 0.5 - time.time())
        for name in PHASES:
            phases.append(phase := Phase(name, time.monotonic()))
            await load(phase, daemon, port, broker, seconds=seconds, rate=rate)
        collector.cancel()
    return phases


async def collect(inbox: Inbox, start: float, values: list[float], phases: list[Phase]) -> None:
    """The lateness of every command at the device, into the current phase."""
    while True:
        command = json.loads((await inbox.queue.get()).payload)
        arrived = time.time()
        entry = math.floor(arrived - start)
        if entry < 0 or not phases:
            continue
        if command["w_set"] / KW != values[entry]:  # up to one entry late: values alternate
            entry -= 1
        phases[-1].lateness_ms.append((arrived - start - entry) * 1000)


async def load(phase: Phase, daemon: Daemon, port: int, broker: Broker, *, seconds: float, rate: int) -> None:
    """Run the phase's load for `seconds`, sampling the daemon's RSS every second."""
    stop_mms = threading.Event()
    counters: list[int] = []
    flooding = start_flood(broker, rate, seconds) if "flood" in phase.name else None
    clients = [threading.Thread(target=mms_load, args=(port, stop_mms, counters)) for _ in range(CLIENTS)]
    if "mms" not in phase.name:
        clients = []
    for client in clients:
        client.start()
    while time.monotonic() - phase.started < seconds:
        phase.rss_kb.append(rss_kb(daemon.proc.pid))
        await asyncio.sleep(1.0)
    stop_mms.set()
    if flooding is not None:
        out, _ = await asyncio.to_thread(flooding.communicate)
        phase.published = int(out)
    for client in clients:
        await asyncio.to_thread(client.join)
    phase.mms_requests = sum(counters)


def report(phases: list[Phase], seconds: float) -> None:
    print(f"relevent-gw under load, {os.cpu_count()} cores, {seconds:.0f} s per phase")
    print(f"{'phase':<16} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'RSS MiB first/last/max':>24}"
          f" {'MQTT msg/s':>11} {'MMS req/s':>10}")
    for p in phases:
        late = sorted(p.lateness_ms) or [math.nan]
        p99 = late[min(len(late) - 1, int(0.99 * len(late)))]
        rss = f"{p.rss_kb[0] / 1024:.1f}/{p.rss_kb[-1] / 1024:.1f}/{max(p.rss_kb) / 1024:.1f}"
        figures = f"{statistics.median(late):8.2f} {p99:8.2f} {late[-1]:8.2f}"
        rates = f"{p.published / seconds:11.0f} {p.mms_requests / seconds:10.0f}"
        print(f"{p.name:<16} {len(p.lateness_ms):>4} {figures} {rss:>24} {rates}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rate", type=int, default=10_000, help="MQTT messages per second in the flood")
    options = parser.parse_args()
    report(asyncio.run(run(options.seconds, options.rate)), options.seconds)


if __name__ == "__main__":
    main()
