"""Delay from a nominal entry boundary to `ctl/set` at each subscribed device, through the whole gateway.

mosquitto, the daemon (`python -m relevent`, its own process) and the devices' subscriptions (one lean
client in this process, see `listening`). For 1 device (the default model) SCADA (open61850)
writes its ten ActPow schedules with 1 s entries starting at the same whole second.
Sites of 10 and 100 devices (one LD each, `relevent-gw scl generate --devices N` with its defaults) run
every schedule but the reserves (30 per device, 1 s entries, all starting on the same second), programmed
into the gateway's store before it starts (`bench/seed.py`: over MMS that takes minutes at 100 devices).
Each command is stamped with `time.time()` when it arrives (one host, one clock); the nominal boundary is
the start time plus the entry's offset. Each site runs twice: alone, and with the status page open (a
client fetching `/api/status` and `/readyz` every second, as the page does; its request times are a row of
their own). Prints p50/p99/max and the core count; asserts nothing.

Usage: `.venv/bin/python -m bench.mqtt_gateway_boundary [--seconds 30] [--devices 1 100] [--page no yes]`
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from open61850.data import FloatData, IECData, IntData, TimestampData
from open61850.mms import MmsClient, ObjectName, operate
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import Row, print_rows
from bench.mqtt_boundary import start_broker
from bench.seed import GATEWAY_START_S, SCRATCH, seeded_site
from relevent.ports import free_port
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load

MMS_CLIENTS = 4  # writes of many LDs go out in parallel associations, all from this host
# Only boundary commands, no ack warnings; the programming clients all come from 127.0.0.1.
CONFIG = (f"[mms]\nmax_connections_per_peer = {MMS_CLIENTS}\n"
          "[mqtt]\nheartbeat_s = 3600\nack_timeout_s = 3600\n")  # fmt: skip


@contextmanager
def daemon(scl: Path, broker_port: int, workdir: Path, toml: str = CONFIG) -> Iterator[tuple[int, int, int]]:
    """The gateway on the store in `workdir/state`, ready (MMS listening, broker up), configured by `toml`;
    yields its MMS port, HTTP port and process id."""
    config = workdir / "gw.toml"
    config.write_text(toml)
    mms_port, http_port = free_port(), free_port()
    args = [
        "--config", str(config), "--scl", str(scl), "--state-dir", str(workdir / "state"),
        "--mms-host", "127.0.0.1", "--mms-port", str(mms_port), "--http-port", str(http_port),
        "--mqtt-url", f"mqtt://127.0.0.1:{broker_port}", "--log-level", "warning",
    ]  # fmt: skip
    log = (workdir / "gateway.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "relevent", *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + GATEWAY_START_S
        while not ready(http_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not become ready; see {workdir / 'gateway.log'}")
            time.sleep(0.1)
        yield mms_port, http_port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # still building its model: signals wait for the loop
            proc.kill()
            proc.wait()
        log.close()


def ready(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as reply:
            return bool(json.load(reply)["ready"])
    except (OSError, urllib.error.URLError):
        return False


Items = list[tuple[str, IECData | None]]  # (item below `ActPow_FSCHnn$SP$`, value); ("EnaReq", None)


def write_all(mms_port: int, lds: Sequence[str], items: Callable[[int], Items]) -> None:
    """Write `items(n)` into `ActPow_FSCHnn` (n = 1..10) of every LD, over a few parallel associations."""
    schedules = [(ld, n) for ld in lds for n in range(1, 11)]

    def work(share: Sequence[tuple[str, int]]) -> None:
        client = MmsClient.connect("127.0.0.1", mms_port)
        try:
            for ld, n in share:
                for item, value in items(n):
                    if value is None:
                        operate(client, f"{ld}/ActPow_FSCH{n:02d}.{item}", ctl_val=True)
                    else:
                        client.write(ObjectName(f"ActPow_FSCH{n:02d}$SP${item}", ld), value)
        finally:
            client.close()

    with ThreadPoolExecutor(MMS_CLIENTS) as pool:
        list(pool.map(work, [schedules[i::MMS_CLIENTS] for i in range(MMS_CLIENTS)]))


def program(mms_port: int, lds: Sequence[str], entries: int) -> float:
    """Entry k of every schedule is k + 1 (model units); FSCHnn has priority 10 n. Return the start time."""
    print(f"  programming {10 * len(lds)} schedules over MMS", file=sys.stderr)
    began = time.monotonic()
    values: Items = [(f"ValASG{k + 1:03d}$setMag$f", FloatData(float(k + 1))) for k in range(entries)]
    values += [("NumEntr$setVal", IntData(entries)), ("SchdIntv$setVal", IntData(1))]
    write_all(mms_port, lds, lambda n: [*values, ("SchdPrio$setVal", IntData(10 * n))])
    per_item = (time.monotonic() - began) / (len(values) + 1)  # one item written into every schedule
    # The start time and the enable are two more items: start after them (with a margin), on a whole second.
    start = float(math.ceil(time.time() + 3 * per_item + 1.0))
    stamp = TimestampData(datetime.fromtimestamp(start, UTC))
    write_all(mms_port, lds, lambda _: [("StrTm01$setTm", stamp), ("EnaReq", None)])
    if time.time() >= start:
        raise RuntimeError("programming took longer than planned: the first boundary went by")
    print(f"  programmed in {time.monotonic() - began:.1f} s; running {entries} s", file=sys.stderr)
    return start


async def measure(count: int, seconds: int, workdir: Path, page: bool) -> tuple[list[float], list[float]]:
    """(boundary -> `ctl/set` delays, status request times), in seconds; no requests without `page`."""
    scl, start = DEFAULT_MODEL, 0.0
    if count > 1:
        scl, start = await asyncio.to_thread(seeded_site, workdir, count, seconds)
    lds = [ld.name for ied in load(scl).ieds for ld in ied.ldevices]
    broker = start_broker()
    try:
        with (
            daemon(scl, broker.port, workdir) as (mms_port, http_port, _),
            listening(broker.port, lds) as arrivals,
            status_page(http_port, page) as requests,
        ):
            if count == 1:
                start = await asyncio.to_thread(program, mms_port, lds, seconds)
            elif time.time() >= start:
                raise RuntimeError("the gateway started after the seeded schedules' first boundary")
            await asyncio.sleep(start + seconds + 1.0 - time.time())  # the run, then the reserve's command
            received = list(arrivals)
    finally:
        broker.kill()
    return delays(received, start, seconds), list(requests)


@contextmanager
def status_page(http_port: int, open_: bool) -> Iterator[list[float]]:
    """While `open_`, what the open status page does: `/api/status` and `/readyz` every second, in a thread;
    yields the `/api/status` request times."""
    times: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(1.0):
            began = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/status", timeout=10) as reply:
                reply.read()
            times.append(time.monotonic() - began)
            ready(http_port)

    thread = threading.Thread(target=poll, name="status-page", daemon=True)
    if open_:
        thread.start()
    try:
        yield times
    finally:
        stop.set()
        if open_:
            thread.join()


@contextmanager
def listening(broker_port: int, lds: Sequence[str]) -> Iterator[list[tuple[float, float]]]:
    """Every device's `ctl/set`, stamped on arrival as (w_set, time) by one lean client in its own thread.

    Real devices receive in parallel, each on its own CPU. Simulating 100 of them as 100 asyncio clients in
    one process queued each boundary's 100 commands behind each other (~1 ms each) and measured that queue;
    paho's network thread stamps a command the moment it is parsed.
    """
    arrivals: list[tuple[float, float]] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(_: mqtt.Client, __: object, message: mqtt.MQTTMessage) -> None:
        arrived = time.time()
        arrivals.append((json.loads(message.payload)["w_set"], arrived))

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    try:
        client.subscribe([(f"relevent/v1/gw1/dev/{ld}/ctl/set", 1) for ld in lds])
        if not subscribed.wait(10):
            raise TimeoutError("the devices' subscriptions were not acknowledged")
        yield arrivals
    finally:
        client.disconnect()
        client.loop_stop()


def delays(arrivals: list[tuple[float, float]], start: float, entries: int) -> list[float]:
    """Arrival minus nominal boundary. The winning schedule's entries step up by one model unit per entry
    (any unit scale, any first value); the reserve's 0 ends the run."""
    steps = sorted({w for w, _ in arrivals if w > 0})
    first, unit = steps[0], min(b - a for a, b in itertools.pairwise(steps))
    result = []
    for w_set, arrived in arrivals:
        entry = entries if w_set == 0 else round((w_set - first) / unit)
        result.append(arrived - (start + entry))
    return result


TARGETS = {1: "p99 < 5 ms", 100: "p99 < 50 ms"}


def collect(
    devices: Sequence[int] = (1, 10, 100), seconds: int = 30, pages: Sequence[bool] = (False, True)
) -> list[Row]:
    """Each site size in turn, without and with the status page; arrival at the device minus the nominal
    boundary, in ms."""
    rows = []
    for count in devices:
        for page in pages:
            scratch = SCRATCH if count > 1 else None
            with tempfile.TemporaryDirectory(prefix="relevent-bench-", dir=scratch) as workdir:
                delays_s, requests_s = asyncio.run(measure(count, seconds, Path(workdir), page))
            case = f"{count} device(s), aligned boundaries"
            target = TARGETS.get(count, "")
            if page:
                case, target = f"{case}, status page open", "p99 within 10 % of the page closed"
            samples = tuple(d * 1e3 for d in delays_s)
            rows.append(Row("boundary -> ctl/set", case, "ms", samples, target=target))
            if page:
                samples = tuple(r * 1e3 for r in requests_s)
                rows.append(
                    Row("status request", f"{count} device(s), /api/status during the run", "ms", samples)
                )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=30, help="entries (1 s each) per run")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument(
        "--page",
        choices=["no", "yes"],
        nargs="+",
        default=["no", "yes"],
        help="runs without and/or with the status page open",
    )
    options = parser.parse_args()
    print_rows(collect(options.devices, options.seconds, [p == "yes" for p in options.page]))
