"""MMS request latency of the relevent-gw server: read, SP write through the gate, operate (p50/p99).

The server runs here on asyncio (the production "exec" loop); the libiec61850 client runs in its own
process and times each round trip there. Prints numbers, asserts nothing.
Run from the repository root: `.venv/bin/python bench/mms_latency.py [samples]`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' client helper lives in the repo

from relevent.scl.parse import load
from relevent.wan.mms import Verdict
from tests.conftest import REFERENCE_MODELS
from tests.mms.iec_client import IecClient
from tests.mms.support import HOST, LD, PolicyGate, running

PRIO = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
OPERATIONS = {
    "read": ("read", (f"{LD}/ActPow_FSCC1.ValMV.mag.f", "MX")),
    "write (gate)": ("write", (PRIO, "SP", 7)),
    "operate (gate)": ("operate", (f"{LD}/ActPow_FSCH01.EnaReq", True)),
}


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main(samples: int) -> None:
    gate = PolicyGate(rules={PRIO: lambda _: Verdict.SUCCESS})
    client = IecClient()
    try:
        async with running(load(REFERENCE_MODELS["der_scheduler"]), gate) as server:
            await client.call("connect", HOST, server.settings.port)
            print(f"cores: {os.cpu_count()}, server wait_ms {server.settings.wait_ms}")
            print(f"{'operation':<16}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
            for label, (method, args) in OPERATIONS.items():
                await client.call("timed", method, args, samples // 10)  # warm-up
                times = await client.call("timed", method, args, samples)
                p50, p99 = statistics.median(times), _percentile(times, 0.99)
                print(f"{label:<16}{samples:>6}{p50 * 1e3:>9.3f}{p99 * 1e3:>9.3f}{max(times) * 1e3:>9.3f}")
    finally:
        client.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
