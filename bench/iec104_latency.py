"""IEC 104 setpoint -> ACT_CON at the SCADA, and -> the device's `ctl/set` on MQTT.

The daemon runs as its own process with `[iec104]` and one MQTT device following MaxPow; the SCADA (a
c104 client) runs here, the device is a process of its own (`bench.stamped_device`), as on a site. Each
setpoint carries a new value, stamped on the SCADA's thread as it leaves; its ACT_CON is when c104's
blocking `transmit` returns, its command when the device receives that value.
Targets: setpoint -> ctl/set p50 < 3 ms, p99 < 10 ms on 2 cores. Then a libiec61850 client's reads from a
process of its own (in this one, its stamps would wait for the flooding SCADA's threads), quiet and while
a SCADA sends 100 setpoints/s (each phase `PHASE_S` long, reads back to back): the MMS request latency
must stay as it was. An idle twin gateway on the same machine is read by turns: what the flood's processes
take from the machine shows in its reads too, so the gateway's p99 is judged against the twin's.

Usage: `.venv/bin/python -m bench.iec104_latency [--commands 200] [--serve auto|thread|loop]`
"""

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import REPO, Row, print_rows
from bench.site import gateway_site
from relevent.ports import free_port
from tests.iec104.link import SetpointScada, link_up
from tests.integration.gateway import LD
from tests.mms.iec_client import IecClient
from tests.mosquitto import Broker

SETPOINT = 3001
MMS_ITEM = (f"{LD}/MaxPow_FSCC1.ActSchdRef.stVal", "ST")
PHASE_S = 10.0  # each phase of reads: a thousand setpoints of the flood
BATCH = 10  # reads of one target before the other's turn: both see the same moments of the flood
FLOOD_PER_S = 100.0
TOPIC = "relevent/v1/gw1/dev/bat1/ctl/set"


def config(port: int, serve: str) -> str:
    return f"""[mqtt]
heartbeat_s = 3600
[mms]
serve = "{serve}"
[[devices]]
id = "bat1"
class = "battery"
w_max_lim = "@Control/MaxPow_FSCC1"
[[actors]]
name = "dso"
band = [60, 69]
slots = ["@Control/MaxPow_FSCH03"]
[[policy]]
actor = "dso"
schedules = ["@Control/MaxPow_FSCH03"]
max_priority = 69
[iec104]
enabled = true
port = {port}
[[iec104.points]]
ioa = {SETPOINT}
type = "C_SE_NC_1"
target = "@Control/MaxPow_FSCC1"
function = "MaxPow"
"""


def stamped_send(scada: SetpointScada, value: float) -> tuple[float, float, bool]:
    """Send `value` from this thread: when it left, when its ACT_CON came back, whether positive."""
    sent = time.monotonic()
    ok = scada.send(value)
    return sent, time.monotonic(), ok


async def measure(broker: Broker, port: int, commands: int) -> list[Row]:
    scada = await asyncio.to_thread(link_up, lambda: SetpointScada(port, SETPOINT), 10.0)
    assert scada is not None, "the SCADA never got the link up"
    confirmed: list[float] = []
    delivered: list[float] = []
    device = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.stamped_device", broker.host, str(broker.port), TOPIC, "w_max_lim",
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert device.stdout is not None
    try:
        assert await asyncio.wait_for(device.stdout.readline(), 10.0) == b"ready\n"
        for n in range(commands):
            value = 10.0 + n % 2  # kW: every command changes the limit
            sent, acked, ok = await asyncio.to_thread(stamped_send, scada, value)
            confirmed.append((acked - sent) * 1000)
            assert ok, f"setpoint {n} refused after {confirmed[-1]:.1f} ms"
            while True:
                arrived, seen = (await asyncio.wait_for(device.stdout.readline(), 5.0)).split()
                if float(seen) == value * 1000:  # W
                    break
            delivered.append((float(arrived) - sent) * 1000)
            await asyncio.sleep(0.02)
    finally:
        device.kill()
        await device.wait()
    scada.client.stop()
    return [
        Row("iec104_latency", "setpoint -> ACT_CON at the SCADA", "ms", tuple(confirmed)),
        Row("iec104_latency", "setpoint -> ctl/set at the device", "ms", tuple(delivered),
            target="p50 < 3 ms, p99 < 10 ms"),
    ]  # fmt: skip


def flood(scada: SetpointScada, per_s: float, stop: threading.Event) -> int:
    """Setpoints at `per_s` (each waits for its ACT_CON) until `stop`; how many were confirmed."""
    confirmed, n, period = 0, 0, 1.0 / per_s
    next_at = time.monotonic()
    while not stop.is_set():
        confirmed += scada.send(20.0 + n % 2)
        n, next_at = n + 1, next_at + period
        stop.wait(max(0.0, next_at - time.monotonic()))
    return confirmed


async def mms_beside_104(port: int, mms_port: int, twin_port: int) -> list[Row]:
    """MMS reads quiet, then while a second SCADA sends `FLOOD_PER_S` setpoints a second.

    Each phase reads the gateway and its idle twin by turns: the twin shares the machine but no 104
    traffic, so its reads show what the flood's processes (SCADA, broker, device) cost anyone.
    """
    gateway, twin = IecClient(), IecClient()
    try:
        await gateway.call("connect", "127.0.0.1", mms_port)
        await twin.call("connect", "127.0.0.1", twin_port)
        quiet = await by_turns(gateway, twin)
        scada = await asyncio.to_thread(link_up, lambda: SetpointScada(port, SETPOINT), 10.0)
        assert scada is not None, "the SCADA never got the link up"
        stop = threading.Event()
        started = time.monotonic()
        flooding = asyncio.create_task(asyncio.to_thread(flood, scada, FLOOD_PER_S, stop))
        loaded = await by_turns(gateway, twin)
        stop.set()
        rate = await flooding / (time.monotonic() - started)
        scada.client.stop()
    finally:
        gateway.close()
        twin.close()
    flooded = f"104 at {FLOOD_PER_S:g}/s"
    ours, twins = (
        Row("iec104_latency", f"mms read, {flooded}", "ms", loaded[0]),
        Row("iec104_latency", f"mms read, idle twin, {flooded} at the other", "ms", loaded[1]),
    )
    ratio = (ours.percentile(0.99) or 0.0) / (twins.percentile(0.99) or 1.0)
    return [
        Row("iec104_latency", "mms read, quiet", "ms", quiet[0]),
        ours,
        Row("iec104_latency", "mms read, idle twin, quiet", "ms", quiet[1]),
        twins,
        Row("iec104_latency", "mms read p99 under the flood, gateway / twin", "x", value=ratio,
            target="<= 1.10"),
        Row("iec104_latency", "104 setpoints confirmed meanwhile", "/s", value=rate),
    ]  # fmt: skip


async def by_turns(gateway: IecClient, twin: IecClient) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Reads of each for `PHASE_S`, in ms, `BATCH` at a time by turns."""
    ours: list[float] = []
    twins: list[float] = []
    until = time.monotonic() + PHASE_S
    while time.monotonic() < until:
        ours += await gateway.call("timed", "read", MMS_ITEM, BATCH)
        twins += await twin.call("timed", "read", MMS_ITEM, BATCH)
    return tuple(t * 1000 for t in ours), tuple(t * 1000 for t in twins)


async def run(commands: int, serve: str) -> list[Row]:
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "twin").mkdir()
        async with (
            gateway_site(root, config(port, serve)) as (broker, args),
            gateway_site(root / "twin", config(free_port(), serve)) as (_, twin),
        ):
            rows = await measure(broker, port, commands)
            return rows + await mms_beside_104(port, args.mms_port, twin.mms_port)


def collect(commands: int = 200, serve: str = "auto") -> list[Row]:
    """`commands` setpoints, one at a time; both gateways with `[mms] serve = serve`."""
    return asyncio.run(run(commands, serve))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--serve", choices=("auto", "thread", "loop"), default="auto")
    arguments = parser.parse_args()
    print_rows(collect(arguments.commands, arguments.serve))


if __name__ == "__main__":
    main()
