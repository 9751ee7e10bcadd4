"""Restart recovery: SIGKILL of the gateway mid-schedule -> the device gets the right command again.

The daemon runs on a real mosquitto with a device subscribed to its commands; SCADA programs a schedule of
1 s entries; the gateway is killed (no clean shutdown), restarted on the same state directory, and the
time from the kill to the first command carrying the entry then due is measured. Prints numbers,
asserts nothing. Run from the repository root: `.venv/bin/python -m bench.recovery`.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from pathlib import Path

from bench.common import Row, print_rows
from tests.daemon import GatewayArgs, running
from tests.integration.gateway import COMMANDS, KW, Schedule, next_second, scada_programs
from tests.mosquitto import Broker, mqtt_client

KILLS = 5
ENTRIES = 100  # the value slots of a schedule: 100 s of 1 s entries covers every restart


async def _recoveries(directory: Path) -> tuple[list[float], list[float]]:
    broker = Broker(directory, "allow_anonymous true\n")
    broker.start()
    args = GatewayArgs(directory / "state", mqtt_url=broker.url)
    to_command: list[float] = []
    to_ready: list[float] = []
    try:
        async with mqtt_client(broker, COMMANDS) as (_, inbox):
            with running(args.argv()) as gateway:
                gateway.wait_for("gateway running", 60)
                start = next_second(1.5)
                await scada_programs(args.mms_port, Schedule("ActPow_FSCH01", range(1, ENTRIES + 1), start))
                await asyncio.sleep(start + 2 - time.time())  # the schedule runs
                gateway.proc.send_signal(signal.SIGKILL)
            for _ in range(KILLS):
                killed = time.time()
                with running(args.argv()) as gateway:
                    await asyncio.to_thread(gateway.wait_for, "gateway running", 60)
                    to_ready.append(time.time() - killed)
                    while True:  # commands sent before the kill may still be in the inbox
                        command = await inbox.next_json(30)
                        due = int(time.time() - start) + 1
                        if command["w_set"] in {due * KW, (due - 1) * KW}:
                            to_command.append(time.time() - killed)
                            break
                    gateway.proc.send_signal(signal.SIGKILL)
    finally:
        broker.kill()
    return to_ready, to_command


def collect() -> list[Row]:
    """Kill and restart the gateway KILLS times; seconds until ready and until the device is served."""
    with tempfile.TemporaryDirectory(prefix="relevent-bench-") as tmp:
        ready, command = asyncio.run(_recoveries(Path(tmp)))
    return [
        Row("recovery after SIGKILL", "kill -> gateway running", "s", tuple(ready)),
        Row("recovery after SIGKILL", "kill -> right ctl/set at device", "s", tuple(command), target="< 2 s"),
    ]


if __name__ == "__main__":
    print_rows(collect())
