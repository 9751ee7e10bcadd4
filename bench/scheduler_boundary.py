"""Latency of entry-boundary output events: emit time minus nominal boundary, in real time.

33 schedules of the reference-like model run at once (3 controllers x 10 schedules with 1 s entries, plus
the 3 hourly reserves) for about 20 s on the real loop (uvloop when installed) with the SQLite store.
Prints p50/p99/max in ms; asserts nothing. Run: .venv/bin/python -m bench.scheduler_boundary
"""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
import time
from pathlib import Path

import structlog

from bench.common import Row, print_rows
from relevent.scheduler import Actor, Engine, Event, OutputChanged, SqliteStore, SystemClock
from relevent.scheduler.engine import STATUS_DELAY_S
from relevent.scheduler.events import AttributeChanged
from tests.scheduler.factory import reference_like_spec

ENTRIES = 20
BENCH = Actor("bench", "localhost")


async def _measure() -> tuple[list[float], list[float]]:
    model = reference_like_spec()
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

    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.sqlite")
        engine = Engine(model, clock=SystemClock(), store=store)
        engine.start()
        start = math.floor(time.time()) + 2.0
        for schedule in model.schedules:
            if schedule.reserve:
                continue
            number = int(schedule.ref[-2:])
            values: list[float | bool] = [float(number * 100 + i) for i in range(ENTRIES)]
            if schedule.kind.value == "SPG":
                values = [bool((number + i) % 2) for i in range(ENTRIES)]
            writes: list[tuple[str, object]] = [
                (f"{schedule.ref}.{name}.{schedule.kind.value_da}", v)
                for name, v in zip(schedule.value_names, values, strict=False)
            ]
            writes += [
                (f"{schedule.ref}.NumEntr.setVal", ENTRIES),
                (f"{schedule.ref}.SchdIntv.setVal", 1),
                (f"{schedule.ref}.SchdPrio.setVal", 10 + number),
                (f"{schedule.ref}.StrTm01.setTm", start),
            ]
            for ref, value in writes:
                engine.write(ref, value, BENCH)
            engine.operate(f"{schedule.ref}.EnaReq", ctl_val=True, test=False, actor=BENCH)
        engine.subscribe(on_event)
        await asyncio.sleep(start + ENTRIES + 1.5 - time.time())
        engine.stop()
        store.close()

    return outputs, schedule_values


def collect() -> list[Row]:
    """Run the 33 schedules for ENTRIES seconds on uvloop (when installed); emit minus nominal, in ms."""
    # warnings only: no audit line per benchmark write
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        import uvloop  # noqa: PLC0415 - the production loop when installed
    except ImportError:
        outputs, values = asyncio.run(_measure())
    else:
        outputs, values = uvloop.run(_measure())
    case = f"33 schedules, {ENTRIES} x 1 s"
    delay_ms = STATUS_DELAY_S * 1e3  # the engine publishes a boundary's status after its outputs
    return [
        Row("boundary -> output event", case, "ms", tuple(outputs), target="p99 < 2 ms"),
        Row("boundary -> schedule ValMV", f"{case}, status deferred {delay_ms:.0f} ms", "ms", tuple(values)),
    ]


if __name__ == "__main__":
    print_rows(collect())
