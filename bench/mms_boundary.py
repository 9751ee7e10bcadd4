"""Delay from a nominal entry boundary to the report of the controller output reaching an MMS client.

The real gateway (default model) runs as a process; a libiec61850 client in its own process enables an
URCB of `dsSched` and stamps each report on arrival. Two schedules with 1 s entries (ActPow, MaxPow)
change their controller's output at every boundary; each reported output's `t` is its nominal boundary.
`--idle-clients N` connects N more clients that send nothing (libiec61850 waits 10 ms per idle
connection in every threadless processing round). `--devices N` serves a generated site of N devices
instead, every non-reserve schedule running (programmed into the gateway's store before it starts,
`bench/seed.py`: over MMS that would take minutes at 100 devices); the report comes from the first device.
Prints numbers, asserts nothing. Run from the repository root:
`.venv/bin/python bench/mms_boundary.py [--entries 60] [--idle-clients 0] [--devices 1]`.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row, print_rows
from bench.seed import SCRATCH, seeded_site
from relevent.ctl.readings import reading
from relevent.ctl.reports import Report
from tests.integration.mms_gateway import LD, gateway, iec_client, open_client
from tests.mms.iec_client import IecClient

SCHEDULES = ("ActPow_FSCH01", "MaxPow_FSCH01")
OUTPUTS = {f"{LD}/ActPow_FSCC1$MX$ValMV", f"{LD}/MaxPow_FSCC1$MX$ValMV"}
SITES = (10, 100)


def _program(client: IecClient, ld: str, schedule: str, entries: int) -> None:
    ref = f"{ld}/{schedule}"
    writes: list[tuple[str, float | int]] = [
        *((f"{ref}.ValASG{i:03d}.setMag.f", float(i % 2 + 1)) for i in range(1, entries + 1)),  # 2, 1, 2, ...
        (f"{ref}.NumEntr.setVal", entries),
        (f"{ref}.SchdIntv.setVal", 1),
        (f"{ref}.SchdPrio.setVal", 50),
    ]
    for leaf, value in writes:
        assert client.call_blocking("write", leaf, "SP", value) == 0, leaf


def _arm(client: IecClient, ld: str, schedule: str, start: datetime) -> None:
    ref = f"{ld}/{schedule}"
    assert client.call_blocking("write", f"{ref}.StrTm01.setTm", "SP", start) == 0, ref
    assert client.call_blocking("operate", f"{ref}.EnaReq", True)[0]  # noqa: FBT003 - ctlVal


def _delays(reports: list[Report]) -> list[float]:
    """Arrival minus nominal boundary of every reported output change (the GI excluded)."""
    delays = []
    for report in reports:
        for entry in report.entries:
            item = reading(entry.value)
            if entry.ref in OUTPUTS and entry.reason != "general-interrogation" and item.t is not None:
                delays.append(report.received - item.t.timestamp())
    return delays


def measure(entries: int, idle_clients: int, devices: int = 1) -> Row:
    """Arrival of output-change reports minus their nominal boundaries, in ms."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=SCRATCH)))
        site, start = seeded_site(folder, devices, entries) if devices > 1 else (None, 0.0)
        _, args = stack.enter_context(gateway(folder / "state", scl=site))
        # The reporting connection makes no requests after subscribing (see ReportSubscription): a second
        # client writes, connected a little later (libiec61850 clients connecting at once may fail).
        listener = stack.enter_context(iec_client(args.mms_port))
        time.sleep(0.2)
        writer = stack.enter_context(iec_client(args.mms_port))
        for _ in range(idle_clients):
            stack.enter_context(open_client(args.mms_port))
        listener.call_blocking("subscribe", LD)
        if site is None:
            start = float(math.ceil(time.time()) + 2)
            for schedule in SCHEDULES:
                _program(writer, LD, schedule, entries)
                _arm(writer, LD, schedule, datetime.fromtimestamp(start, UTC))
        time.sleep(max(0.0, start + entries + 0.5 - time.time()))
        delays = _delays(listener.call_blocking("take_reports"))
    where = "1 device" if devices == 1 else f"{devices} devices, every schedule"
    case = f"{where}, {idle_clients} idle clients, bufTm 50 ms"
    return Row("boundary -> MMS report", case, "ms", tuple(d * 1e3 for d in delays))


def collect(entries: int = 60) -> list[Row]:
    """The default model's gateway with one listener and one writer, then with two more idle clients, then
    the generated sites."""
    return [measure(entries, 0), measure(entries, 2), *(measure(entries, 0, devices) for devices in SITES)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=60, help="1 s entries per schedule (at most 100)")
    parser.add_argument("--idle-clients", type=int, default=0, help="extra connected clients (at most 3)")
    parser.add_argument("--devices", type=int, default=1, help="a generated site of this many devices")
    options = parser.parse_args()
    print_rows([measure(options.entries, options.idle_clients, options.devices)])
