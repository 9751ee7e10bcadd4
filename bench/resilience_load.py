"""Entry boundaries and memory of the real gateway under load: an MQTT flood, four MMS clients at full rate.

mosquitto, the daemon, the flood publisher (`bench/flood.py`) and the four SCADA clients
(`bench/mms_clients.py`, open61850, one thread each) run as their own processes, so that neither shares an
event loop or a GIL with the measuring device (MQTT), which runs here. A schedule with 1 s entries of
alternating values makes every boundary a command; its lateness is the command's arrival at the device minus
the nominal boundary (one host, one clock). Phases of `--seconds` each: idle; four MMS clients reading and
writing as fast as they are answered; an MQTT flood (`--rate` `meas` messages per second on the device's
topic, 1 in 10 malformed); both together; idle again. The daemon's RSS is sampled every second. Prints the
lateness p50/p99/max and RSS per phase, how many of the daemon's own output events were more than 2 and 5 ms
late (its `relevent_output_lateness_seconds`), the latest a command was made after its boundary (its `ts`),
the CPU used by the gateway, mosquitto and the load generators (percent of one core), the achieved
flood and MMS rates, and the core count; asserts nothing. Commands more than one entry late are not matched
to a boundary: `n` then falls below the phase's boundaries. `--nice 10` runs the load generators at a lower
priority: on a site they run on other machines, here they share the cores with gateway and broker.

Usage: `.venv/bin/python bench/resilience_load.py [--seconds 10] [--rate 10000] [--nice 0]`
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
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' daemon, broker and clients


from bench.common import cpu_seconds
from tests.daemon import Daemon, GatewayArgs, rss_kb, running
from tests.integration.gateway import COMMANDS, KW, ROOT, Schedule, scada_programs
from tests.mosquitto import Broker, Inbox, mqtt_client

CLIENTS = 4  # as many as may associate at once (issue #16), all from this host
PHASES = ("idle", "4 mms clients", "mqtt flood", "flood + mms", "idle again")


@dataclass
class Phase:
    name: str
    started: float
    lateness_ms: list[float] = field(default_factory=list)
    built_ms: list[float] = field(default_factory=list)  # the command's `ts` (made, ms resolution) - boundary
    rss_kb: list[int] = field(default_factory=list)
    published: int = 0
    mms_requests: int = 0
    engine_late: tuple[int, int] = (0, 0)  # the daemon's output events more than 2 ms, 5 ms late
    cpu: dict[str, float] = field(default_factory=dict)  # percent of one core: gateway, broker, load


@dataclass(frozen=True)
class Loads:
    """How hard to load the gateway: phase length, flood rate, and the load generators' niceness."""

    seconds: float
    rate: int
    nice: int  # > 0 lets the host favour gateway and broker, as if the load came from other machines


def start_flood(broker: Broker, loads: Loads) -> subprocess.Popen[str]:
    """`bench/flood.py` on the device's `meas` topic for the phase; it prints how many it published."""
    return _spawn(loads, "bench.flood", broker.host, broker.port, f"{ROOT}/meas", loads.rate, loads.seconds)


def start_mms_clients(port: int, loads: Loads) -> subprocess.Popen[str]:
    """`bench/mms_clients.py` for the phase; it prints how many requests were answered."""
    return _spawn(loads, "bench.mms_clients", port, CLIENTS, loads.seconds)


def _spawn(loads: Loads, module: str, *args: object) -> subprocess.Popen[str]:
    argv = ["nice", "-n", str(loads.nice), sys.executable, "-m", module, *map(str, args)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])


async def run(loads: Loads) -> list[Phase]:
    with tempfile.TemporaryDirectory() as directory:
        broker = Broker(Path(directory), "allow_anonymous true\n")
        broker.start()
        toml = Path(directory) / "gw.toml"
        # No keep-alive during the run: carrying the value in force, it would pass for a late boundary.
        toml.write_text(f"[mms]\nmax_connections_per_peer = {CLIENTS}\n[mqtt]\nheartbeat_s = 3600\n")
        args = GatewayArgs(Path(directory) / "state", mqtt_url=broker.url, extra=("--config", str(toml)))
        try:
            with running(args.argv()) as daemon:  # its log is drained by the helper's threads
                daemon.wait_for("gateway running", 60)
                metrics = f"http://127.0.0.1:{daemon.wait_for('http listening')['port']}/metrics"
                port = args.mms_port
                return await measure(daemon, port, broker, metrics=metrics, loads=loads)
        finally:
            broker.kill()


async def measure(
    daemon: Daemon, port: int, broker: Broker, *, metrics: str, loads: Loads
) -> list[Phase]:
    entries = math.ceil(len(PHASES) * loads.seconds) + 5
    values = [float(1 + entry % 2) for entry in range(entries)]  # every boundary changes the output
    start = float(math.ceil(time.time() + 2))
    await scada_programs(port, Schedule("ActPow_FSCH01", values, start, prio=90))
    phases: list[Phase] = []
    async with mqtt_client(broker, COMMANDS) as (_, inbox):
        collector = asyncio.create_task(collect(inbox, start, values, phases))
        await asyncio.sleep(start + 0.5 - time.time())
        for name in PHASES:
            phases.append(phase := Phase(name, time.monotonic()))
            before = await asyncio.to_thread(engine_lateness, metrics)
            await load(phase, daemon, port, broker, loads)
            after = await asyncio.to_thread(engine_lateness, metrics)
            phase.engine_late = (after[0] - before[0], after[1] - before[1])
        collector.cancel()
    return phases


def cpu_s(pid: int) -> float | None:
    """CPU seconds a process has used so far (user + system), None once it is gone."""
    try:
        return cpu_seconds(pid)
    except OSError:
        return None


def engine_lateness(metrics: str) -> tuple[int, int]:
    """How many output events the daemon has emitted more than 2 ms and more than 5 ms late so far."""
    with urllib.request.urlopen(metrics, timeout=10) as response:
        text = response.read().decode()
    name = "relevent_output_lateness_seconds"
    buckets = {line.split('le="')[1].split('"')[0]: float(line.split()[-1])
               for line in text.splitlines() if line.startswith(f"{name}_bucket")}  # fmt: skip
    total = buckets["+Inf"]
    return int(total - buckets["0.002"]), int(total - buckets["0.005"])


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
        built = datetime.fromisoformat(command["ts"]).timestamp()  # when the gateway made the command
        phases[-1].built_ms.append((built - start - entry) * 1000)


async def load(phase: Phase, daemon: Daemon, port: int, broker: Broker, loads: Loads) -> None:
    """Run the phase's load for `loads.seconds`, sampling the daemon's RSS every second."""
    flooding = start_flood(broker, loads) if "flood" in phase.name else None
    clients = start_mms_clients(port, loads) if "mms" in phase.name else None
    watched = {"gateway": [daemon.proc.pid], "broker": [broker.pid or 0],
               "load": [p.pid for p in (flooding, clients) if p is not None]}  # fmt: skip
    first = {pid: (time.monotonic(), cpu_s(pid)) for pids in watched.values() for pid in pids}
    last = dict(first)
    while time.monotonic() - phase.started < loads.seconds:
        phase.rss_kb.append(rss_kb(daemon.proc.pid))
        await asyncio.sleep(1.0)
        last.update({pid: (time.monotonic(), used) for pid in last if (used := cpu_s(pid)) is not None})
    for name, pids in watched.items():
        phase.cpu[name] = sum(100 * ((last[pid][1] or 0) - (first[pid][1] or 0))
                              / max(1e-9, last[pid][0] - first[pid][0]) for pid in pids)  # fmt: skip
    if flooding is not None:
        out, _ = await asyncio.to_thread(flooding.communicate)
        phase.published = int(out)
    if clients is not None:
        out, _ = await asyncio.to_thread(clients.communicate)
        phase.mms_requests = int(out)


def report(phases: list[Phase], loads: Loads) -> None:
    seconds = loads.seconds
    print(f"relevent-gw under load, {os.cpu_count()} cores, {seconds:.0f} s per phase, load generators at"
          f" nice {loads.nice}")
    print(f"{'phase':<16} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'RSS MiB first/last/max':>24}"
          f" {'engine >2/>5 ms':>15} {'made max ms':>11} {'CPU % gw/broker/load':>21} {'MQTT msg/s':>11}"
          f" {'MMS req/s':>10}")
    for p in phases:
        late = sorted(p.lateness_ms) or [math.nan]
        p99 = late[min(len(late) - 1, int(0.99 * len(late)))]
        rss = f"{p.rss_kb[0] / 1024:.1f}/{p.rss_kb[-1] / 1024:.1f}/{max(p.rss_kb) / 1024:.1f}"
        figures = f"{statistics.median(late):8.2f} {p99:8.2f} {late[-1]:8.2f}"
        rates = f"{p.published / seconds:11.0f} {p.mms_requests / seconds:10.0f}"
        engine = f"{p.engine_late[0]}/{p.engine_late[1]}"
        cpu = "/".join(f"{p.cpu[name]:.0f}" for name in ("gateway", "broker", "load"))
        made = f"{max(p.built_ms, default=math.nan):.1f}"
        row = f"{p.name:<16} {len(p.lateness_ms):>4} {figures} {rss:>24} {engine:>15} {made:>11} {cpu:>21}"
        print(f"{row} {rates}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rate", type=int, default=10_000, help="MQTT messages per second in the flood")
    parser.add_argument("--nice", type=int, default=0, help="niceness of the flooder and the MMS clients")
    options = parser.parse_args()
    loads = Loads(options.seconds, options.rate, options.nice)
    report(asyncio.run(run(loads)), loads)


if __name__ == "__main__":
    main()
