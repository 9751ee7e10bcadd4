"""Boundary -> an OCPP station's meter value, schedule enabled -> SetChargingProfile, its round trip.

The daemon runs as its own process as the CSMS of N simulated OCPP 2.0.1 stations (run here, one EV
charging at each) following MaxPow. SCADA programs entries with alternating limits. The gateway sends each
station its plan for the horizon as a profile when the schedule is enabled (the round trip measured here:
EnaReq answered -> SetChargingProfile at the station); the station then follows the boundaries itself and
reports each change in a TransactionEvent meter value (lateness = that report minus the boundary). The
SetChargingProfile round trip (the gateway's CALL to the station's answer) is read from the gateway's
`relevent_ocpp_call_seconds` histogram: its mean and the bucket bounds holding half and 99 % of the calls.
Targets: boundary -> meter value p99 < 20 ms for 1 station, < 500 ms for 100.

Usage: `.venv/bin/python -m bench.ocpp_boundary [--stations 1 100] [--entries 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.common import Row, print_rows
from bench.site import gateway_site
from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.ports import free_port
from tests.integration.gateway import Schedule, next_second, scada_programs

INTERVAL_S = 2
HIGH_KW, LOW_KW = 7.0, 5.0  # both above 6 A on 3 x 230 V: the EV draws each of them
EARLY_S = 0.05


def config(port: int, stations: int) -> str:
    devices = "".join(
        f'[[devices]]\nid = "cs-{i}"\nclass = "ev_charger"\nprotocol = "ocpp"\n'
        'w_max_lim = "@Control/MaxPow_FSCC1"\n'
        for i in range(stations)
    )
    return f'[mqtt]\nheartbeat_s = 3600\n[ocpp]\nhost = "127.0.0.1"\nport = {port}\n{devices}'


async def run(count: int, entries: int) -> list[Row]:
    port = free_port()
    stations = [SimulatedStation(StationOptions(station_id=f"cs-{i}", meter_interval_s=3600.0))
                for i in range(count)]  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        async with gateway_site(Path(directory), config(port, count)) as (_, args):
            runners = [asyncio.create_task(s.run(f"ws://127.0.0.1:{port}/ocpp/{s.options.station_id}"))
                       for s in stations]  # fmt: skip
            try:
                for station in stations:  # booted and given its reserve
                    await station.wait_until(partial(_profiled, station), 60.0)
                await asyncio.sleep(1.0)  # the start-up's profiles all settled
                before = [len(s.set_times) for s in stations]
                start = next_second(2.0)
                values = [HIGH_KW if k % 2 == 0 else LOW_KW for k in range(entries)]
                schedule = Schedule("MaxPow_FSCH01", values, start, intv_s=INTERVAL_S, prio=50)
                await scada_programs(args.mms_port, schedule)
                enabled = time.time()
                await asyncio.sleep(start + entries * INTERVAL_S + 1.0 - time.time())
                round_trips = await asyncio.to_thread(call_round_trips, args.http_port, count)
            finally:
                for runner in runners:
                    runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*runners)
    profiled = [(s.set_times[n] - enabled) * 1000 for s, n in zip(stations, before, strict=True)
                if len(s.set_times) > n]  # fmt: skip
    late = [x for s in stations for x in lateness(s, start, entries)]
    return [
        Row("ocpp_boundary", f"{count} station(s): enabled -> SetChargingProfile", "ms", tuple(profiled)),
        Row("ocpp_boundary", f"{count} station(s): boundary -> meter value", "ms", tuple(late),
            target="p99 < 20 ms" if count == 1 else "p99 < 500 ms"),
        *round_trips,
    ]  # fmt: skip


def call_round_trips(http_port: int, count: int, action: str = "SetChargingProfile") -> list[Row]:
    """The gateway's `action` calls, CALL to answer, from its `relevent_ocpp_call_seconds` histogram:
    the mean, and the bucket bounds that hold half and 99 % of them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    buckets: list[tuple[float, float]] = []
    total = calls = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("action") != action:
                continue
            if sample.name == "relevent_ocpp_call_seconds_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "relevent_ocpp_call_seconds_sum":
                total = sample.value
            elif sample.name == "relevent_ocpp_call_seconds_count":
                calls = sample.value
    if not calls:
        return []

    def bound(share: float) -> float:
        return next(le for le, seen in sorted(buckets) if seen >= share * calls) * 1000

    case = f"{count} station(s): {action} round trip ({calls:.0f} calls)"
    return [Row("ocpp_boundary", f"{case}, mean", "ms", value=total / calls * 1000),
            Row("ocpp_boundary", f"{case}, half within", "ms", value=bound(0.5)),
            Row("ocpp_boundary", f"{case}, 99 % within", "ms", value=bound(0.99))]  # fmt: skip


def _profiled(station: SimulatedStation) -> bool:
    return bool(station.set_requests)


def lateness(station: SimulatedStation, start: float, entries: int) -> list[float]:
    """Per boundary after the first, the first meter value at the new power: its lateness in ms.

    The first boundary is left out: the station draws its maximum before it (no limit but the reserve's).
    """
    found = []
    for k in range(1, entries):
        boundary = start + k * INTERVAL_S
        expected = (HIGH_KW if k % 2 == 0 else LOW_KW) * 1000
        sent = [t for t, _, w in station.meter_reports if t >= boundary - EARLY_S and abs(w - expected) < 70]
        if sent:
            found.append((min(sent) - boundary) * 1000)
    return found


def collect(stations: tuple[int, ...] = (1, 100), entries: int = 10) -> list[Row]:
    """One run per station count."""
    return [row for count in stations for row in asyncio.run(run(count, entries))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--entries", type=int, default=10)
    options = parser.parse_args()
    print_rows(collect(tuple(options.stations), options.entries))


if __name__ == "__main__":
    main()
