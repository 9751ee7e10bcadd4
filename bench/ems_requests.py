"""What an EMS extension request costs the gateway, and a device's boundaries under a flood of them.

mosquitto, the daemon (`python -m relevent`, its own process, the default model) with `[mqtt]
ems_request_topic` writing `MaxPow_FSCH01`, and the EMS as a paho client in this process (its own network
thread). Every request holds 100 values (the slot's capacity) and starts now. The broker and the EMS
send without Nagle's delay, as the gateway does and the shipped broker configuration says.

- `round trip`: requests one at a time (the next once the previous is answered), its admission limit lifted:
  publish -> answer at the EMS. It bounds the loop time of one request from above (two broker hops too).
- `loop thread CPU`: CPU time of the daemon's main thread (the event loop) during those requests, less
  what it uses idle over the same time, per request.
- `flood`: SCADA programs ActPow schedules with 1 s entries over MMS (as `mqtt_gateway_boundary`); during
  the run the EMS floods its topic with `FLOOD_RATE` requests per second for `FLOOD_S` s, under the
  shipped limit and under the devices' limit; boundary -> `ctl/set` of the device over the whole run.

Prints p50/p99/max and the core count; asserts nothing.
Usage: `.venv/bin/python -m bench.ems_requests`
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import Row, cpu_seconds, print_rows
from bench.mqtt_boundary import start_broker
from bench.mqtt_gateway_boundary import MMS_CLIENTS, daemon, delays, listening, program
from bench.seed import SCRATCH
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load

REQUESTS = "site/ems/request"
REPLIES = f"{REQUESTS}/reply"
REQUEST = json.dumps({"direction": "IMPORT", "resolution": "FIVE_MINUTES", "values": [1000.0] * 100}).encode()
# As the shipped config/mosquitto/relevent.conf: no Nagle delay behind a PUBACK.
BROKER_CONF = "allow_anonymous true\nset_tcp_nodelay true\n"
ROUND_TRIPS = 200
IDLE_S = 5.0
FLOOD_RATE = 100
FLOOD_S = 5.0
ENTRIES = 30  # the flood starts 5 s into the run, so the run sees before, during and after it
# The shipped limit, and the devices' (which the EMS topic shared before it had its own).
LIMITS = {"shipped limit 1/s, burst 5": (1.0, 5), "device limit 50/s, burst 200": (50.0, 200)}


def config(rate: float, burst: int) -> str:
    """The gateway's TOML: EMS requests into MaxPow_FSCH01, at most `rate` per second."""
    return (
        f"[mms]\nmax_connections_per_peer = {MMS_CLIENTS}\n"
        "[mqtt]\nheartbeat_s = 3600\nack_timeout_s = 3600\n"
        f'ems_request_topic = "{REQUESTS}"\nems_slot = "@Control/MaxPow_FSCH01"\n'
        f"ems_request_rate = {rate}\nems_request_burst = {burst}\n"
    )


@contextmanager
def ems_client(broker_port: int) -> Iterator[tuple[mqtt.Client, queue.Queue[float]]]:
    """The EMS: a paho client subscribed to the answers, each stamped with `time.perf_counter()`."""
    answers: queue.Queue[float] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda *_: answers.put(time.perf_counter())
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", broker_port)
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the gateway's
    client.loop_start()
    try:
        client.subscribe(REPLIES, qos=1)
        if not subscribed.wait(10):
            raise TimeoutError("the EMS subscription was not acknowledged")
        yield client, answers
    finally:
        client.disconnect()
        client.loop_stop()


def round_trips(client: mqtt.Client, answers: queue.Queue[float], count: int) -> list[float]:
    """Milliseconds from publishing each request to its answer, one request at a time."""
    taken = []
    for _ in range(count):
        sent = time.perf_counter()
        client.publish(REQUESTS, REQUEST, qos=1)
        taken.append((answers.get(timeout=10) - sent) * 1e3)
    return taken


def cost(workdir: Path) -> tuple[list[float], float]:
    """Round trips (ms) and the loop thread's CPU per request (ms) with admission lifted."""
    broker = start_broker(BROKER_CONF)
    try:
        with (
            daemon(DEFAULT_MODEL, broker.port, workdir, config(1e6, 1_000_000)) as (_, _, pid),
            ems_client(broker.port) as (client, answers),
        ):
            round_trips(client, answers, 10)  # warm-up: first imports, first plans
            before, began = cpu_seconds(pid, pid), time.perf_counter()
            time.sleep(IDLE_S)
            idle_per_s = (cpu_seconds(pid, pid) - before) / (time.perf_counter() - began)
            before, began = cpu_seconds(pid, pid), time.perf_counter()
            taken = round_trips(client, answers, ROUND_TRIPS)
            busy = cpu_seconds(pid, pid) - before - idle_per_s * (time.perf_counter() - began)
    finally:
        broker.kill()
    return taken, busy / ROUND_TRIPS * 1e3


def flood(client: mqtt.Client, rate: int, seconds: float) -> int:
    """Publish `rate` requests per second (QoS 0, 10 ms batches) for `seconds`; return how many."""
    batch, tick, published = max(1, rate // 100), time.monotonic(), 0
    end = tick + seconds
    while time.monotonic() < end:
        for _ in range(batch):
            client.publish(REQUESTS, REQUEST, qos=0)
        published += batch
        tick += 0.01
        time.sleep(max(0.0, tick - time.monotonic()))
    return published


async def under_flood(workdir: Path, rate: float, burst: int) -> tuple[list[float], int, int]:
    """Boundary -> ctl/set lateness (s) of a 1 s-entry run flooded with requests; published, answered."""
    lds = [ld.name for ied in load(DEFAULT_MODEL).ieds for ld in ied.ldevices]
    broker = start_broker(BROKER_CONF)
    try:
        with (
            daemon(DEFAULT_MODEL, broker.port, workdir, config(rate, burst)) as (mms_port, _, _),
            listening(broker.port, lds) as arrivals,
            ems_client(broker.port) as (client, answers),
        ):
            start = await asyncio.to_thread(program, mms_port, lds, ENTRIES)
            await asyncio.sleep(start + 5.0 - time.time())
            published = await asyncio.to_thread(flood, client, FLOOD_RATE, FLOOD_S)
            await asyncio.sleep(start + ENTRIES + 1.0 - time.time())
            received = list(arrivals)
            answered = answers.qsize()
    finally:
        broker.kill()
    # A request changes w_max_lim, and its command repeats the w_set in force: the boundary is the first.
    first: dict[float, float] = {}
    for w_set, arrived in received:
        first.setdefault(w_set, arrived)
    return delays(sorted(first.items(), key=lambda item: item[1]), start, ENTRIES), published, answered


def collect() -> list[Row]:
    """The cost of one request, then the run under each flood."""
    with tempfile.TemporaryDirectory(prefix="relevent-bench-", dir=SCRATCH) as workdir:
        taken, loop_ms = cost(Path(workdir))
    rows = [
        Row("ems request", "100 values, round trip", "ms", tuple(taken), target="p99 < 5 ms"),
        Row("ems request", "100 values, loop thread CPU", "ms", value=loop_ms, target="< 5 ms"),
    ]
    for case, (rate, burst) in LIMITS.items():
        with tempfile.TemporaryDirectory(prefix="relevent-bench-", dir=SCRATCH) as workdir:
            lateness, published, answered = asyncio.run(under_flood(Path(workdir), rate, burst))
        print(f"  {case}: {published} requests published, {answered} answered", file=sys.stderr)
        samples = tuple(d * 1e3 for d in lateness)
        flooded = f"{FLOOD_RATE}/s flood, {case}"
        rows.append(Row("boundary -> ctl/set", flooded, "ms", samples, target="p99 < 5 ms"))
        rows.append(Row("ems requests answered", flooded, "", value=float(answered)))
    return rows


if __name__ == "__main__":
    print_rows(collect())
