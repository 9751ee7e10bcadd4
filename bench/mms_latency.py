"""MMS request latency of the relevent-gw server: read, SP write through the gate, operate (p50/p99).

The server runs here on asyncio (the production "exec" loop); the libiec61850 client runs in its own
process and times each round trip there. Prints numbers, asserts nothing.
Run from the repository root: `.venv/bin/python -m bench.mms_latency [samples]`.
"""

from __future__ import annotations

import asyncio
import sys

from bench.common import Row, print_rows
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


async def _measure(samples: int) -> list[Row]:
    gate = PolicyGate(rules={PRIO: lambda _: Verdict.SUCCESS})
    client = IecClient()
    rows = []
    try:
        async with running(load(REFERENCE_MODELS["der_scheduler"]), gate) as server:
            await client.call("connect", HOST, server.settings.port)
            for label, (method, args) in OPERATIONS.items():
                await client.call("timed", method, args, samples // 10)  # warm-up
                times = await client.call("timed", method, args, samples)
                rows.append(Row("mms request latency", label, "ms", tuple(t * 1e3 for t in times)))
    finally:
        client.close()
    return rows


def collect(samples: int = 1000) -> list[Row]:
    """Read, gated write and operate, `samples` each, from a libiec61850 client in its own process."""
    return asyncio.run(_measure(samples))


if __name__ == "__main__":
    print_rows(collect(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
