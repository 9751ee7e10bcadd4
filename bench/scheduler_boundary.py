"""Latency of entry-boundary output events: emit time minus nominal boundary, in real time.

33 schedules of the reference-like model run at once (3 controllers x 10 schedules with 1 s entries, plus
the 3 hourly reserves) for about 20 s on the real loop (uvloop when installed) with the SQLite store; then
the same for sites of 10 and 100 devices from the generator (defaults: 30 schedules with 1 s entries per
device running, all on the same boundaries; their store in /dev/shm when there is one, as the programming
commits every command). Before each run it times single writes (engine + store commit), as an MMS write
handler makes them. The cyclic GC runs as in the gateway (`relevent.heap`: start-up frozen, full passes
between boundaries). Prints p50/p99/max in ms; asserts nothing.
Run: .venv/bin/python -m bench.scheduler_boundary
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path

import structlog

from bench.common import Row, print_rows
from bench.seed import BENCH, SCRATCH, program
from relevent.heap import full_collections, long_lived_heap
from relevent.scheduler.clock import SystemClock
from relevent.scheduler.commands import ACCEPTED
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, Event, OutputChanged
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.store import SqliteStore
from relevent.scl.generate import GeneratorOptions, write_scl
from relevent.scl.parse import load
from relevent.timing import STATUS_DELAY_S
from tests.scheduler.factory import reference_like_spec

ENTRIES = 20
SITES = (10, 100)
WRITES = 200


def _time_writes(engine: Engine, model: ModelSpec) -> list[float]:
    """Milliseconds per accepted write of one ASG value, spread over the model's schedules."""
    schedules = [s for s in model.schedules if s.kind.value == "ASG"]
    taken = []
    for i in range(WRITES):
        schedule = schedules[i * len(schedules) // WRITES]
        ref = f"{schedule.ref}.{schedule.value_names[i % 4]}.{schedule.kind.value_da}"
        began = time.perf_counter()
        result = engine.write(ref, float(i), BENCH)
        taken.append((time.perf_counter() - began) * 1e3)
        if result is not ACCEPTED:
            raise RuntimeError(f"{ref}: {result}")
    return taken


async def _measure(model: ModelSpec, db: Path) -> tuple[list[float], list[float], list[float]]:
    outputs: list[float] = []
    schedule_values: list[float] = []

    def on_event(event: Event) -> None:
        late_ms = (time.time() - event.timestamp) * 1000
        if isinstance(event, OutputChanged):
            outputs.append(late_ms)
        elif (
            isinstance(event, AttributeChanged) and event.ref.endswith(".ValMV.mag.f") and "FSCH" in event.ref
        ):
            schedule_values.append(late_ms)

    store = SqliteStore(db)
    try:
        with long_lived_heap():  # the gateway's start-up: no collection, then frozen out of later ones
            engine = Engine(model, clock=SystemClock(), store=store)
            engine.start()
        writes = _time_writes(engine, model)
        start = program(engine, model, ENTRIES, lead_s=2.0)
        engine.subscribe(on_event)
        # full collections between boundaries, as the gateway runs them
        collector = asyncio.create_task(full_collections(engine.time_to_next_instant))
        await asyncio.sleep(start + ENTRIES + 1.5 - time.time())
        collector.cancel()
        engine.stop()
    finally:
        store.close()
    return outputs, schedule_values, writes


def _run(model: ModelSpec, db: Path) -> tuple[list[float], list[float], list[float]]:
    """`_measure` on uvloop when installed (the production loop)."""
    try:
        import uvloop  # noqa: PLC0415 - the production loop when installed
    except ImportError:
        return asyncio.run(_measure(model, db))
    return uvloop.run(_measure(model, db))


def _rows(
    site: str, outputs: list[float], values: list[float], writes: list[float], target: str = ""
) -> list[Row]:
    delay_ms = STATUS_DELAY_S * 1e3  # the engine publishes a boundary's status after its outputs
    case = f"{site}, {ENTRIES} x 1 s"
    return [
        Row("boundary -> output event", case, "ms", tuple(outputs), target=target),
        Row("boundary -> schedule ValMV", f"{case}, status deferred {delay_ms:.0f} ms", "ms", tuple(values)),
        Row("scheduler write", f"{site}, one value, committed", "ms", tuple(writes)),
    ]


def collect() -> list[Row]:
    """The 33 reference-like schedules, then each generated site, for ENTRIES seconds; emit minus nominal."""
    # warnings only: no audit line per benchmark write
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        folder = Path(tmp)
        reference = _run(reference_like_spec(), folder / "reference.sqlite")
        rows = _rows("33 schedules", *reference, target="p99 < 2 ms")
        for devices in SITES:
            write_scl(GeneratorOptions(devices=devices), scl := folder / f"site{devices}.cid")
            model = model_spec(load(scl))
            running = sum(not schedule.reserve for schedule in model.schedules)
            site = f"{devices} devices, {running} schedules"
            rows += _rows(site, *_run(model, folder / f"site{devices}.sqlite"))
    return rows


if __name__ == "__main__":
    print_rows(collect())
