"""Boundary -> register write at SunSpec inverters, and boundary -> coil change at a relay board.

The daemon runs as its own process with N SunSpec inverters and one relay board following MaxPow; the
simulators run here, each write stamped with the wall time it arrives. SCADA programs 1 s entries with
alternating values, so every boundary changes every device's limit: one register block per inverter, one
coil change at the board. Lateness = the first write after a boundary minus the nominal boundary.
Targets: p99 < 10 ms for 1 inverter, < 100 ms for 50.

Usage: `.venv/bin/python -m bench.sunspec_boundary [--entries 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path

from bench.common import Row, print_rows
from bench.site import gateway_site
from relevent.demo.relay_board import SimulatedRelayBoard
from relevent.demo.sunspec_inverter import SimulatedInverter
from relevent.ports import free_port
from tests.integration.gateway import Schedule, next_second, scada_programs

EARLY_S = 0.05  # the engine acts a little before an instant; a write that early belongs to it


def config(inverters: list[int], board: int) -> str:
    devices = "".join(
        f'[[devices]]\nid = "pv{i}"\nclass = "pv_inverter"\nprotocol = "sunspec"\n'
        f'w_max_lim = "@Control/MaxPow_FSCC1"\n'
        f'sunspec = {{ host = "127.0.0.1", port = {port}, poll_s = 5.0 }}\n'
        for i, port in enumerate(inverters)
    )
    relay = (
        '[[devices]]\nid = "rb1"\nclass = "heat_pump"\nprotocol = "modbus-relay"\n'
        'w_max_lim = "@Control/MaxPow_FSCC1"\n[devices.relay]\n'
        f'host = "127.0.0.1"\nport = {board}\npoll_s = 5.0\nrating_w = 10000.0\nstep_coils = [0, 1]\n'
        "steps = [{ pct = 0, coils = [true, true] }, { pct = 30, coils = [false, true] },\n"
        "         { pct = 60, coils = [true, false] }, { pct = 100, coils = [false, false] }]\n"
    )
    return f"[mqtt]\nheartbeat_s = 3600\n{devices}{relay}"  # no refresh inside the run


async def run(count: int, entries: int) -> list[Row]:
    inverters = [SimulatedInverter() for _ in range(count)]
    board = SimulatedRelayBoard()
    writes: dict[str, list[float]] = {}
    for name, server in [*((f"pv{i}", inv.server) for i, inv in enumerate(inverters)), ("rb1", board.server)]:
        writes[name] = []
        server.on_write = lambda at, _fc, _address, _values, name=name: writes[name].append(at)
    ports = [free_port() for _ in inverters]
    for inverter, port in zip(inverters, ports, strict=True):
        await inverter.server.start("127.0.0.1", port)
    board_port = free_port()
    await board.server.start("127.0.0.1", board_port)
    with tempfile.TemporaryDirectory() as directory:
        async with gateway_site(Path(directory), config(ports, board_port)) as (_, args):
            await asyncio.sleep(2.0)  # every device connected and written once (the reserve)
            start = next_second(2.0)
            values = [7.0 if k % 2 == 0 else 3.0 for k in range(entries)]
            await scada_programs(args.mms_port, Schedule("MaxPow_FSCH01", values, start, prio=50))
            await asyncio.sleep(start + entries + 1.0 - time.time())
    for server in [*(inv.server for inv in inverters), board.server]:
        await server.stop()
    late_inverters = [x for name, at in writes.items() if name != "rb1" for x in lateness(at, start, entries)]
    return [
        Row("sunspec_boundary", f"{count} inverter(s): boundary -> register write", "ms",
            tuple(late_inverters), target="p99 < 10 ms" if count == 1 else "p99 < 100 ms"),
        Row("sunspec_boundary", f"relay board beside {count}: boundary -> coil change", "ms",
            tuple(lateness(writes["rb1"], start, entries))),
    ]  # fmt: skip


def lateness(arrivals: list[float], start: float, entries: int) -> list[float]:
    """Per boundary, the first write's lateness in ms."""
    first: dict[int, float] = {}
    for at in arrivals:
        k = math.floor(at - start + EARLY_S)
        if 0 <= k < entries:
            first.setdefault(k, (at - (start + k)) * 1000)
    return list(first.values())


def collect(entries: int = 20) -> list[Row]:
    """1 and 50 inverters, a relay board beside them."""
    return [row for count in (1, 50) for row in asyncio.run(run(count, entries))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20, help="1 s schedule entries per case")
    print_rows(collect(parser.parse_args().entries))


if __name__ == "__main__":
    main()
