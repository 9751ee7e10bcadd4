"""Delay from a nominal entry boundary to `ctl/set` at each subscribed device, through the whole gateway.

mosquitto, the daemon (`python -m relevent`, its own process) and the devices' subscriptions (one lean
client in this process, see `listening`). SCADA (open61850) writes every ActPow schedule of every LD with
1 s entries starting at the same whole second, so every device's command changes at the same boundaries.
Each command is stamped with `time.time()` when it arrives (one host, one clock); the nominal boundary is
the start time written plus the entry's offset. Prints p50/p99/max for 1 device (default model) and 100
devices (one LD each, from `relevent scl generate --devices 100`) and the core count; asserts nothing.

Usage: `.venv/bin/python -m bench.mqtt_gateway_boundary [--seconds 30] [--devices 1 100]`
"""

from __future__ import annotations

import argparse
import asyncio
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
from relevent.ports import free_port
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load

CONFIG = "[mqtt]\nheartbeat_s = 3600\nack_timeout_s = 3600\n"  # only boundary commands, no ack warnings
MMS_CLIENTS = 4  # writes of many LDs go out in parallel associations


@contextmanager
def daemon(scl: Path, broker_port: int, workdir: Path) -> Iterator[int]:
    """The gateway, ready (MMS listening, broker connected); yields its MMS port."""
    config = workdir / "gw.toml"
    config.write_text(CONFIG)
    mms_port, http_port = free_port(), free_port()
    args = [
        "--config", str(config), "--scl", str(scl), "--state-dir", str(workdir / "state"),
        "--mms-host", "127.0.0.1", "--mms-port", str(mms_port), "--http-port", str(http_port),
        "--mqtt-url", f"mqtt://127.0.0.1:{broker_port}", "--log-level", "warning",
    ]  # fmt: skip
    log = (workdir / "gateway.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "relevent", *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ready(http_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not become ready; see {workdir / 'gateway.log'}")
            time.sleep(0.1)
        yield mms_port
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


def model(count: int, entries: int, workdir: Path) -> Path:
    """The default model for one device, else one generated LD per device.

    The generated LDs hold the ActPow function only, with `entries` value slots and one start time: the MMS
    server's start-up grows with the square of its writable attributes (libiec61850 keeps write handlers
    in a linked list), and 100 full default LDs (~770k of them) take far longer to start than a run.
    """
    if count == 1:
        return DEFAULT_MODEL
    scl = workdir / f"devices-{count}.cid"
    generate = [
        sys.executable, "-m", "relevent", "scl", "generate", "-o", str(scl), "--devices", str(count),
        "--functions", "ActPow", "--entries", str(entries), "--start-times", "1",
    ]  # fmt: skip
    subprocess.run(generate, check=True, capture_output=True)
    return scl


async def measure(count: int, seconds: int, workdir: Path) -> list[float]:
    scl = await asyncio.to_thread(model, count, seconds, workdir)
    lds = [ld.name for ied in load(scl).ieds for ld in ied.ldevices]
    broker = start_broker()
    try:
        with daemon(scl, broker.port, workdir) as mms_port, listening(broker.port, lds) as arrivals:
            start = await asyncio.to_thread(program, mms_port, lds, seconds)
            await asyncio.sleep(start + seconds + 1.0 - time.time())  # the run, then the reserve's command
            received = list(arrivals)
    finally:
        broker.kill()
    return delays(received, start, seconds)


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
    """Arrival minus nominal boundary: entry k carries k + 1 units (any unit scale), the reserve's 0 ends."""
    unit = min(w for w, _ in arrivals if w > 0)
    result = []
    for w_set, arrived in arrivals:
        entry = entries if w_set == 0 else round(w_set / unit) - 1
        result.append(arrived - (start + entry))
    return result


TARGETS = {1: "p99 < 5 ms", 100: "p99 < 50 ms"}


def collect(devices: Sequence[int] = (1, 10, 100), seconds: int = 30) -> list[Row]:
    """Each site size in turn; arrival at the device minus the nominal boundary, in ms."""
    rows = []
    for count in devices:
        with tempfile.TemporaryDirectory(prefix="relevent-bench-") as workdir:
            delays_s = asyncio.run(measure(count, seconds, Path(workdir)))
        case = f"{count} device(s), aligned boundaries"
        samples = tuple(d * 1e3 for d in delays_s)
        rows.append(Row("boundary -> ctl/set", case, "ms", samples, target=TARGETS.get(count, "")))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=30, help="entries (1 s each) per run")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 10, 100])
    options = parser.parse_args()
    print_rows(collect(options.devices, options.seconds))
