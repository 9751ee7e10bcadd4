"""Delay from a controller output event to `ctl/set` received by a subscribed device, through mosquitto.

The device runs in its own process (as real devices do) on `dev/+/ctl/set` and stamps each command with
CLOCK_MONOTONIC, which both processes share. Every device follows the same controller, so one event fans out
to N commands. Prints p50/p99/max per N; asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
from prometheus_client import CollectorRegistry

from relevent.app import device_timing
from relevent.config import MqttSection
from relevent.demo.broker import LoopbackBroker
from relevent.lan.layer import DeviceLayer
from relevent.lan.mqtt import Device, DeviceRegistry, MqttBridge, MqttBridgeConfig
from relevent.scheduler.events import OutputChanged

ACT = "DER_Scheduler_Control/ActPow_FSCC1"
TOPIC = "relevent/v1/bench/dev/+/ctl/set"


def start_broker(conf: str = "allow_anonymous true\n") -> LoopbackBroker:
    """A throwaway mosquitto on a free loopback port (the demo's), `conf` added to its configuration."""
    broker = LoopbackBroker(Path(tempfile.mkdtemp(prefix="mosq-bench-")), conf)
    broker.start()
    return broker


async def device(port: int, expected: int) -> None:
    """The device process: print `<w_set> <monotonic time>` for every command with a positive w_set."""
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe(TOPIC, qos=1)
        print("ready", flush=True)
        seen = 0
        async for message in client.messages:
            received = time.monotonic()
            w_set = json.loads(message.payload)["w_set"]
            if w_set:
                print(w_set, received)
                seen += 1
                if seen == expected:
                    return


async def measure(port: int, devices: int, rounds: int) -> list[float]:
    registry = DeviceRegistry.of([Device(f"d{i}", "battery", {"w_set": ACT}) for i in range(devices)])
    mqtt = MqttSection(url=f"mqtt://127.0.0.1:{port}", heartbeat_s=3600, ack_timeout_s=3600)
    config = MqttBridgeConfig("bench", mqtt)
    metrics = CollectorRegistry()
    bridge = MqttBridge(config, registry, metrics_registry=metrics)
    site = DeviceLayer(registry, {bridge.protocol: bridge}, device_timing(mqtt), metrics_registry=metrics)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--device", str(port), str(devices * rounds), stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    await proc.stdout.readline()  # ready
    task = asyncio.create_task(bridge.run(site))
    layer = asyncio.create_task(site.run())
    for _ in range(500):  # the bridge has no event for it: poll up to 5 s
        if bridge.connected:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # let the commands sent on connect pass
    sent: dict[float, float] = {}
    for n in range(1, rounds + 1):
        sent[float(n)] = time.monotonic()
        site.on_output(OutputChanged(ACT, float(n), "DER_Scheduler_Control/ActPow_FSCH01", 1, time.time()))
        await asyncio.sleep(0.02 + devices * 0.0005)  # one fan-out at a time
    output, _ = await proc.communicate()
    bridge.stop()
    await task
    layer.cancel()
    delays = []
    for line in output.decode().splitlines():
        value, received = line.split()
        delays.append(float(received) - sent[float(value)])
    return delays


def report(devices: int, delays: list[float]) -> None:
    ms = sorted(d * 1000 for d in delays)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{devices:4d} device(s): n={len(ms):5d}  p50={statistics.median(ms):7.2f} ms  "
        f"p99={p99:7.2f} ms  max={ms[-1]:7.2f} ms"
    )


async def main() -> None:
    broker = start_broker()
    try:
        print(f"mqtt boundary: output event -> ctl/set at the device (mosquitto, {os.cpu_count()} cores)")
        for devices, rounds in ((1, 500), (100, 50)):
            report(devices, await measure(broker.port, devices, rounds))
    finally:
        broker.kill()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--device"]:
        asyncio.run(device(int(sys.argv[2]), int(sys.argv[3])))
    else:
        asyncio.run(main())
