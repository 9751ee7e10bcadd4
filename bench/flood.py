"""An MQTT flood from its own process, so that it shares no event loop with the client that measures.

`rate` messages per second in 10 ms batches on `topic` for `seconds`, 1 in 10 malformed, QoS 0; prints the
number of messages published. Usage: `python -m bench.flood HOST PORT TOPIC RATE SECONDS`.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiomqtt

VALID_MEAS = b'{"ts": "2024-01-01T00:00:00Z", "w": 1500.0}'
BAD_MEAS = b'{"ts": "yesterday", "w": "lots"}'


async def flood(host: str, port: int, topic: str, rate: int, seconds: float) -> int:
    """Publish the flood; return how many messages went out."""
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        batch = max(1, rate // 100)
        tick = time.monotonic()
        end = tick + seconds
        published = 0
        while time.monotonic() < end:
            for i in range(batch):
                await client.publish(topic, BAD_MEAS if i % 10 == 0 else VALID_MEAS, qos=0)
            published += batch
            tick += 0.01
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        return published


def main() -> None:
    host, port, topic, rate, seconds = sys.argv[1:6]
    print(asyncio.run(flood(host, int(port), topic, int(rate), float(seconds))))


if __name__ == "__main__":
    main()
