"""A device as its own process: it prints when each command arrives, on the clock every process shares.

A device beside the measuring client in one process waits for that process's other threads (the GIL) and
its loop before it can note the arrival; a real device is a process (or a box) of its own.

Usage: `python -m bench.stamped_device HOST PORT TOPIC FIELD` prints `<time.monotonic()> <payload[FIELD]>`
per message after a first line `ready`, until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiomqtt


async def listen(host: str, port: int, topic: str, name: str) -> None:
    """Print each message's arrival and its `name` field, flushed at once."""
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(topic, qos=1)
        print("ready", flush=True)
        async for message in client.messages:
            arrived = time.monotonic()
            value = json.loads(message.payload).get(name)
            print(f"{arrived!r} {value!r}", flush=True)


if __name__ == "__main__":
    asyncio.run(listen(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
