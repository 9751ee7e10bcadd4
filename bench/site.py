"""A gateway site for the benchmarks: mosquitto and the daemon as their own processes, on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from relevent.ports import free_port
from tests.daemon import GatewayArgs, running
from tests.mosquitto import Broker


@asynccontextmanager
async def gateway_site(root: Path, toml: str) -> AsyncIterator[tuple[Broker, GatewayArgs]]:
    """The daemon with `toml` under `root`, serving (MMS listening) until the block ends.

    `args.http_port` serves its metrics.
    """
    config = root / "gw.toml"
    config.write_text(toml)
    broker = Broker(root, "allow_anonymous true\n")
    broker.start()
    extra = ("--config", str(config))
    args = GatewayArgs(root / "state", mqtt_url=broker.url, extra=extra, http_port=free_port())
    try:
        with running(args.argv()) as daemon:
            await asyncio.to_thread(daemon.wait_for, "gateway running", 60)
            yield broker, args
    finally:
        broker.kill()
