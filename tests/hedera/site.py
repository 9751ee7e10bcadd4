"""A gateway site with HEDERA for the daemon tests and the bench: its TOML, the fake HEDERA in real time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from relevent.demo.hedera import hedera_config
from relevent.demo.hedera_server import FakeHedera

MRID = "12345678-1234-1234-1234-123456789012"
FIRM_W = 1000.0
SECRET = "hedera-s3cr3t-9f2e"  # distinctive: the tests look for it where it must never be


def config(fake: FakeHedera, secret: Path, heartbeat_s: float = 60) -> str:
    """The TOML: the import direction with its firm capacity, the actor `hedera` with three MaxPow slots."""
    slots = ("@Control/MaxPow_FSCH01", "@Control/MaxPow_FSCH02", "@Control/MaxPow_FSCH03")
    hedera = hedera_config(fake, secret, mrid=MRID, slots=slots, firm_w=FIRM_W, poll_s=0.5,
                           ems='response_prefix = "ems/replies/"\n')  # fmt: skip
    return f"[mqtt]\nheartbeat_s = {heartbeat_s}\n{hedera}"


@asynccontextmanager
async def fake_hedera(tmp_path: Path, **knobs: Any) -> AsyncIterator[tuple[FakeHedera, Path]]:
    """The fake HEDERA in real time on loopback, and the client secret's file (mode 600)."""
    fake = FakeHedera(time.time, {MRID: "I"}, client_secret=SECRET, **knobs)
    await fake.start()
    secret = tmp_path / "secret"
    secret.write_text(f"{SECRET}\n")
    secret.chmod(0o600)
    try:
        yield fake, secret
    finally:
        await fake.stop()
