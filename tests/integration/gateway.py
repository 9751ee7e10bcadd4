"""The real daemon between a real mosquitto, a SCADA client over MMS (open61850) and devices over MQTT.

open61850 blocks: its helpers here are plain functions; async tests run them with `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from open61850.data import BoolData, FloatData, IECData, IntData, TimestampData
from open61850.mms import MmsClient, ObjectName, operate

from tests.daemon import Daemon, GatewayArgs, running
from tests.mosquitto import Broker, Inbox, mqtt_client

LD = "DER_Scheduler_Control"
# Without [[devices]] every LD is one device, named after the LD.
DEVICE = LD
ROOT = f"relevent/v1/gw1/dev/{DEVICE}"
COMMANDS = f"{ROOT}/ctl/set"
AVAIL = f"{ROOT}/avail"
KW = 1000.0  # the default model's powers are kW (`units.multiplier` 3); devices get W


@dataclass(frozen=True)
class Gateway:
    """A running daemon and the ports it serves."""

    daemon: Daemon
    mms_port: int
    http_port: int

    def samples(self, name: str) -> dict[str, float]:
        """Every series of one metric on `/metrics`, by its label text (`kind="meas",reason="..."`)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
        found = {}
        for line in text.splitlines():
            series, _, value = line.rpartition(" ")
            metric, _, labels = series.partition("{")
            if metric == name:
                found[labels.rstrip("}")] = float(value)
        return found

    async def counted(self, name: str, total: float, wait_s: float = 5.0) -> dict[str, float]:
        """The series of `name` once they add up to `total`; polled, as the daemon has nothing to await."""
        deadline = time.monotonic() + wait_s
        while sum((found := await asyncio.to_thread(self.samples, name)).values()) < total:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never reached {total}: {found}")
            await asyncio.sleep(0.05)
        return found


@contextmanager
def gateway(
    broker: Broker,
    directory: Path,
    config: str = "",
    scl: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Gateway]:
    """The daemon on `broker` with `config` as its TOML file (and `env`), up and connected to the broker."""
    toml = directory / "gw.toml"
    toml.write_text(config)
    args = GatewayArgs(directory / "state", scl=scl, mqtt_url=broker.url, extra=("--config", str(toml)))
    with running(args.argv(), env) as daemon:
        http_port = daemon.wait_for("http listening")["port"]
        daemon.wait_for("mqtt connected")
        daemon.wait_for("gateway running", 30)  # MMS listens after the devices are served
        yield Gateway(daemon, args.mms_port, http_port)


@asynccontextmanager
async def device_and_gateway(
    broker: Broker, directory: Path, config: str = "", *topics: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Gateway, aiomqtt.Client, Inbox]]:
    """The device subscribed to its commands (and `topics`) before the daemon starts, so the command sent
    when the gateway connects arrives at a known point: it is consumed here, the test sees what follows."""
    async with mqtt_client(broker, COMMANDS, *topics) as (client, inbox):
        with gateway(broker, directory, config, env=env) as gw:
            await inbox.until(lambda message: message.topic.value == COMMANDS)
            yield gw, client, inbox


@dataclass(frozen=True)
class Schedule:
    """What SCADA writes into one FSCH: bool values go to `ValSPG`, numbers to `ValASG`."""

    fsch: str
    values: Sequence[float | bool]
    start: float
    intv_s: int = 1
    prio: int = 50
    ld: str = LD


def next_second(lead_s: float) -> float:
    """The first whole second at least `lead_s` from now: a start time with round boundaries."""
    return float(math.ceil(time.time() + lead_s))


def connect(port: int) -> MmsClient:
    """An MMS association with the daemon."""
    return MmsClient.connect("127.0.0.1", port)


def program(client: MmsClient, *schedules: Schedule) -> None:
    """Write every schedule's parameters, then enable them all (each write and operate must succeed)."""
    for s in schedules:
        for index, value in enumerate(s.values, start=1):
            if isinstance(value, bool):
                write(client, s.ld, f"{s.fsch}$SP$ValSPG{index:03d}$setVal", BoolData(value))
            else:
                write(client, s.ld, f"{s.fsch}$SP$ValASG{index:03d}$setMag$f", FloatData(float(value)))
        write(client, s.ld, f"{s.fsch}$SP$NumEntr$setVal", IntData(len(s.values)))
        write(client, s.ld, f"{s.fsch}$SP$SchdIntv$setVal", IntData(s.intv_s))
        write(client, s.ld, f"{s.fsch}$SP$SchdPrio$setVal", IntData(s.prio))
        write(client, s.ld, f"{s.fsch}$SP$StrTm01$setTm", TimestampData(datetime.fromtimestamp(s.start, UTC)))
    for s in schedules:
        operate(client, f"{s.ld}/{s.fsch}.EnaReq", True)


async def scada_programs(mms_port: int, *schedules: Schedule) -> None:
    """SCADA writes and enables `schedules` over its own association."""
    client = await asyncio.to_thread(connect, mms_port)
    try:
        await asyncio.to_thread(program, client, *schedules)
    finally:
        client.close()


def write(client: MmsClient, ld: str, item: str, value: IECData) -> None:
    client.write(ObjectName(item, ld), value)


def read(client: MmsClient, item: str, ld: str = LD) -> Any:
    """The plain value of one leaf (`ActPow_FSCH01$SP$NumEntr$setVal`)."""
    data = client.read(ObjectName(item, ld))
    value = getattr(data, "value", data)
    return value.timestamp() if isinstance(value, datetime) else value
