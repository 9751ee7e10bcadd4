"""MMS request latency of the relevent-gw server: read, SP write through the gate, operate (p50/p99), and
the throughput of four clients at full rate (as many as may associate at once: issue #16 keeps the fifth
of libiec61850's slots free for the next client).

The server runs here on asyncio (the production "exec" loop); the libiec61850 client runs in its own
process and times each round trip there; the four clients (open61850, `bench/mms_clients.py`) run in one
process of their own, reading and writing alternately as fast as they are answered. Prints numbers,
asserts nothing.
Run from the repository root: `.venv/bin/python -m bench.mms_latency [samples]`.
"""

from __future__ import annotations

import asyncio
import sys

from bench.common import REPO, Row, print_rows
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load
from relevent.wan.mms import Verdict
from tests.mms.iec_client import IecClient
from tests.mms.support import HOST, LD, PolicyGate, running

PRIO = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
CLIENTS = 4
THROUGHPUT_S = 5.0
# What `bench/mms_clients.py` writes: the first entry of schedules 2..9.
LOADED = [f"{LD}/ActPow_FSCH{n:02d}.ValASG001.setMag.f" for n in range(2, 10)]
OPERATIONS = {
    "read": ("read", (f"{LD}/ActPow_FSCC1.ValMV.mag.f", "MX")),
    "write (gate)": ("write", (PRIO, "SP", 7)),
    "operate (gate)": ("operate", (f"{LD}/ActPow_FSCH01.EnaReq", True)),
}


async def _measure(samples: int) -> list[Row]:
    gate = PolicyGate(rules={ref: lambda _: Verdict.SUCCESS for ref in [PRIO, *LOADED]})
    client = IecClient()
    rows = []
    try:
        async with running(load(DEFAULT_MODEL), gate) as server:
            await client.call("connect", HOST, server.settings.port)
            for label, (method, args) in OPERATIONS.items():
                await client.call("timed", method, args, samples // 10)  # warm-up
                times = await client.call("timed", method, args, samples)
                rows.append(Row("mms request latency", label, "ms", tuple(t * 1e3 for t in times)))
            await client.call("close")
            rows.append(await _throughput(server.settings.port))
    finally:
        client.close()
    return rows


async def _throughput(port: int) -> Row:
    """Requests per second answered to four clients at full rate, for `THROUGHPUT_S`."""
    clients = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.mms_clients", str(port), str(CLIENTS), str(THROUGHPUT_S),
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    out, _ = await clients.communicate()
    answered = int(out.split()[-1])
    case = f"{CLIENTS} clients, reads and gated writes"
    return Row("mms throughput", case, "req/s", value=answered / THROUGHPUT_S)


def collect(samples: int = 1000) -> list[Row]:
    """Read, gated write and operate, `samples` each, from a libiec61850 client in its own process."""
    return asyncio.run(_measure(samples))


if __name__ == "__main__":
    print_rows(collect(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
