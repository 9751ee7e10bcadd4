"""Schedules programmed straight into an engine: every non-reserve schedule of a model, 1 s entries whose
values change at every boundary, all starting on the same whole second.

`program` runs on a started engine (the scheduler benchmark's own); `seed_store` leaves the result in a
gateway's store, as if SCADA had programmed the site before a restart: large sites start with their
schedules running, without minutes of MMS writes.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from relevent.app import STORE_FILE
from relevent.scheduler.clock import SystemClock
from relevent.scheduler.commands import Actor
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.engine import Engine
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.store import SqliteStore
from relevent.scl.generate import GeneratorOptions, write_scl
from relevent.scl.parse import load

BENCH = Actor("bench", "localhost")
# Where seeded sites live: in memory when the machine has /dev/shm (the seeding commits every command).
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
GATEWAY_START_S = 30.0  # a seeded 100-device site is ready (MMS listening) in ~7-10 s; its schedules later


def program(engine: Engine, model: ModelSpec, entries: int, lead_s: float) -> float:
    """Program and enable every non-reserve schedule; return their common start, `lead_s` after the writes."""
    running = [schedule for schedule in model.schedules if not schedule.reserve]
    for schedule in running:
        number = int(schedule.ref[-2:])
        values: list[float | bool] = [float(number * 100 + i) for i in range(entries)]
        if schedule.kind.value == "SPG":
            values = [bool((number + i) % 2) for i in range(entries)]
        writes: list[tuple[str, object]] = [
            (f"{schedule.ref}.{name}.{schedule.kind.value_da}", v)
            for name, v in zip(schedule.value_names, values, strict=False)
        ]
        writes += [
            (f"{schedule.ref}.NumEntr.setVal", entries),
            (f"{schedule.ref}.SchdIntv.setVal", 1),
            (f"{schedule.ref}.SchdPrio.setVal", 10 + number),
        ]
        for ref, value in writes:
            engine.write(ref, value, BENCH)
    # Every start on the same whole second, far enough ahead for the start times and enables (2-3 ms each).
    start = math.floor(time.time()) + lead_s + math.ceil(len(running) * 0.004)
    for schedule in running:
        engine.write(f"{schedule.ref}.StrTm01.setTm", start, BENCH)
        engine.operate(f"{schedule.ref}.EnaReq", ctl_val=True, test=False, actor=BENCH)
    return float(start)


def seed_store(model: ModelSpec, db: Path, entries: int, lead_s: float) -> float:
    """`program` into the store file `db` of a gateway not yet started; return the common start."""

    async def run() -> float:
        store = SqliteStore(db)
        try:
            engine = Engine(model, clock=SystemClock(), store=store)
            engine.start()
            start = program(engine, model, entries, lead_s)
            engine.stop()
            return start
        finally:
            store.close()

    db.parent.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run())


def seeded_site(folder: Path, devices: int, entries: int) -> tuple[Path, float]:
    """A generated site of `devices` LDs in `folder`, seeded into the store of a gateway whose state
    directory is `folder / "state"`, its schedules starting `GATEWAY_START_S` from now; (SCL file, start).
    """
    scl = folder / f"site{devices}.cid"
    write_scl(GeneratorOptions(devices=devices), scl)
    return scl, seed_store(model_spec(load(scl)), folder / "state" / STORE_FILE, entries, GATEWAY_START_S)
