"""What one status page update costs the event loop at 1 and 100 devices.

In-process: a generated site (1 or 100 device LDs, every schedule programmed with 1 s entries, so the
outputs change every second), the status view the gateway serves, and a watcher coroutine beside it that
measures how long the loop was held between two of its turns. Each update is one tick of the page's
live feed for a window: the status sections rendered (in slices) and the changes since the last tick
picked, between two boundaries (the boundary's own work is `scheduler_boundary`'s). The garbage collector
runs as in the gateway (`relevent.heap`): without it a full pass over the programmed site fell into a tick
now and then (35-87 ms). Target: < 5 ms of the loop at a time per update at 100 devices.

Usage: `.venv/bin/python -m bench.status_page`
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path

import structlog

from bench.common import Row, print_rows
from bench.seed import SCRATCH, program
from relevent.heap import full_collections, long_lived_heap
from relevent.lan.trace import SHOWN_POINTS
from relevent.obs.live import Sent, SharedSections
from relevent.obs.status import WINDOWS_S, StatusView
from relevent.scheduler.clock import SystemClock
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.engine import Engine
from relevent.scheduler.store import SqliteStore
from relevent.scl.generate import GeneratorOptions, write_scl
from relevent.scl.parse import load

UPDATES = 20
ENTRIES = 120  # 1 s entries: the schedules run through the whole measurement (2 x 20 updates)


class LoopWatch:
    """The longest time the loop was held between two turns of this coroutine, per measured stretch."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0)
            self.longest = max(self.longest, time.perf_counter() - began)


async def measure(devices: int, folder: Path) -> list[Row]:
    scl = folder / f"site{devices}.cid"
    write_scl(GeneratorOptions(devices=devices), scl)
    model = model_spec(load(scl))
    store = SqliteStore(folder / f"site{devices}.sqlite")
    engine = Engine(model, clock=SystemClock(), store=store)
    # The gateway's garbage collection: what start-up built frozen, full passes planned between boundaries.
    with long_lived_heap():
        engine.start()
        start = program(engine, model, ENTRIES, lead_s=1.0)
    collector = asyncio.create_task(full_collections(engine.time_to_next_instant))
    trace = {"measured": [[time.time() - k, 1000.0 + k] for k in range(SHOWN_POINTS)],
             "asked": [[time.time() - k, -2000.0, 5000.0 + k] for k in range(SHOWN_POINTS)]}  # the most shown
    device_rows = [{"id": f"dev{i}", "protocol": "mqtt", "health": "applied", "age_s": {}, "stale": [],
                    "trace": trace} for i in range(devices)]  # fmt: skip
    view = StatusView("bench", engine, lambda _since: device_rows)
    feed = SharedSections(view.sections)
    await asyncio.sleep(start + 2.0 - time.time())  # running, a few output changes in the history
    watch = LoopWatch()
    watcher = asyncio.create_task(watch.run())
    rows = []
    try:
        for name in ("5m", "24h"):
            held, took, sizes = [], [], []
            sent = Sent()  # one page following the window
            for _ in range(UPDATES):
                # between two boundaries (whole seconds): the boundary's own work is another benchmark's
                await asyncio.sleep(1.2 - time.time() % 1.0)
                watch.longest = 0.0
                began = time.perf_counter()
                message = await sent.delta(await feed.get(WINDOWS_S[name]), "true")
                took.append((time.perf_counter() - began) * 1000)
                for _ in range(2):  # the watcher's next turn records the render's last stretch
                    await asyncio.sleep(0)
                held.append(watch.longest * 1000)
                sizes.append(len(message))
            case = f"{devices} devices, {name} window, {sizes[0] // 1024} then {sizes[-1] // 1024} KiB"
            rows += [
                Row("status page update", f"{case}: loop held at most", "ms", tuple(held),
                    target="p99 < 5 ms" if devices >= 100 else ""),
                Row("status page update", f"{case}: rendered in", "ms", tuple(took)),
            ]  # fmt: skip
    finally:
        watcher.cancel()
        collector.cancel()
        engine.stop()
        store.close()
    return rows


def collect() -> list[Row]:
    """1 and 100 devices."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        for devices in (1, 100):
            rows += asyncio.run(measure(devices, Path(tmp)))
    return rows


if __name__ == "__main__":
    print_rows(collect())
