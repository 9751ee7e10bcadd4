"""Start-up time, resident memory and idle CPU of the gateway against site size (1..100 devices).

Each size is a model from `relevent-gw scl generate --devices N` (generator defaults: 33 schedules per
device); the gateway runs as a subprocess with no clients. A second process builds the same model step
by step to show what the memory goes to. Prints numbers, asserts nothing.
Run from the repository root: `.venv/bin/python -m bench.startup`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Row, cpu_seconds, print_rows
from relevent.scl.generate import GeneratorOptions, write_scl
from tests.daemon import GatewayArgs, rss_kb, running

SIZES = (1, 10, 25, 50, 100)
READY_TIMEOUT_S = 300.0  # 100 devices start in ~8 s on 2 cores; generous for loaded machines
IDLE_S = 10.0
SETTLE_S = 5.0  # after "gateway running": the first plans and forecasts for every device are start-up work
BREAKDOWN_SIZE = 10


def rss_mb(pid: int) -> float:
    """The resident set size of a process in MiB."""
    return rss_kb(pid) / 1024


def measure(devices: int, directory: Path) -> list[Row]:
    """Start the gateway on a model of `devices` LDs; time to ready, RSS, idle CPU."""
    model = directory / f"site{devices}.cid"
    write_scl(GeneratorOptions(devices=devices), model)
    case = f"{devices} device(s)"
    started = time.monotonic()
    with running(GatewayArgs(directory / f"state{devices}", scl=model).argv()) as gateway:
        gateway.wait_for("devices served", timeout=READY_TIMEOUT_S)
        devices_s = time.monotonic() - started  # the scheduler runs and MQTT serves; MMS is still being made
        gateway.wait_for("gateway running", timeout=READY_TIMEOUT_S)
        ready_s = time.monotonic() - started
        pid = gateway.proc.pid
        memory = rss_mb(pid)
        time.sleep(SETTLE_S)  # a time window, not a wait for an event: see SETTLE_S
        before = cpu_seconds(pid)
        time.sleep(IDLE_S)  # idle CPU is the measured quantity: nothing to wait for
        idle = (cpu_seconds(pid) - before) / IDLE_S * 100
        gateway.stop()
    return [
        Row("startup", case, "s", value=ready_s, target="< 3 s at 100"),
        Row("startup: devices served", case, "s", value=devices_s),
        Row("rss", case, "MiB", value=memory, target="< 400 MiB at 100"),
        Row("idle cpu", case, "%", value=idle, target="< 3 %"),
    ]


def breakdown(devices: int, directory: Path) -> list[Row]:
    """RSS after each start-up stage, measured in a fresh process (see `_stages`)."""
    model = directory / f"site{devices}.cid"
    if not model.exists():
        write_scl(GeneratorOptions(devices=devices), model)
    out = subprocess.run(
        [sys.executable, "-m", "bench.startup", "--stages", str(model), str(directory / "stages.sqlite3")],
        capture_output=True, text=True, check=True, timeout=READY_TIMEOUT_S, cwd=REPO,
    )  # fmt: skip
    rows = []
    for line in out.stdout.splitlines():
        stage, delta, seconds = line.split("=")
        rows.append(Row("rss by stage", f"{devices} device(s): {stage}", "MiB", value=float(delta)))
        rows.append(Row("time by stage", f"{devices} device(s): {stage}", "s", value=float(seconds)))
    return rows


def _stages(model: Path, store: Path) -> None:
    """Print `stage=MiB added` (and seconds) for: imports, SCL description, scheduler, MMS model, handlers."""
    import asyncio  # noqa: PLC0415 - the stages are measured in this process only

    from relevent.scheduler.clock import SystemClock  # noqa: PLC0415
    from relevent.scheduler.discovery import model_spec  # noqa: PLC0415
    from relevent.scheduler.engine import Engine  # noqa: PLC0415
    from relevent.scheduler.store import SqliteStore  # noqa: PLC0415
    from relevent.scl.parse import load  # noqa: PLC0415
    from relevent.wan.mms import MmsServer, MmsSettings  # noqa: PLC0415
    from relevent.wan.mms.binding import SchedulerBinding  # noqa: PLC0415

    last, since = 0.0, time.perf_counter()

    def mark(stage: str) -> None:
        nonlocal last, since
        now = rss_mb(os.getpid())
        print(f"{stage}={now - last:.1f}={time.perf_counter() - since:.2f}")
        last, since = now, time.perf_counter()

    mark("python + imports")
    doc = load(model)
    mark("SCL description")

    async def scheduler() -> Engine:
        engine = Engine(model_spec(doc), clock=SystemClock(), store=SqliteStore(store))
        engine.start()
        return engine

    engine = asyncio.run(scheduler())
    mark("scheduler")
    server = MmsServer.build(doc, SchedulerBinding(engine, doc, engine.model.ied_name), MmsSettings(port=0))
    mark("MMS model + write handlers (libiec61850)")
    server.close()


def collect() -> list[Row]:
    """Every size, then the memory breakdown of the largest."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="relevent-bench-") as tmp:
        directory = Path(tmp)
        for devices in SIZES:
            rows += measure(devices, directory)
        rss = {r.case: r.value for r in rows if r.benchmark == "rss"}
        first, last = rss[f"{SIZES[0]} device(s)"], rss[f"{SIZES[-1]} device(s)"]
        if first is not None and last is not None:
            per_device = (last - first) / (SIZES[-1] - SIZES[0])
            rows.append(Row("rss", "per device (slope)", "MiB", value=per_device))
        rows += breakdown(BREAKDOWN_SIZE, directory)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--stages":
        _stages(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        print_rows(collect())
