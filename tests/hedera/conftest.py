"""A started engine on looptime's fake clock, the fake HEDERA on loopback, and the lifecycle between them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from relevent.demo.hedera_server import FakeHedera
from relevent.obs.audit_store import AuditEntry
from relevent.scheduler.intents import Intents
from relevent.scheduler.verdicts import ActorSlots
from relevent.wan.hedera.client import HederaClient
from relevent.wan.hedera.config import HederaEmsSection, HederaSection
from relevent.wan.hedera.lifecycle import HederaLifecycle, Target
from relevent.wan.hedera.metrics import HederaMetrics
from relevent.wan.hedera.store import HederaStore
from tests.scheduler.factory import BASE, ln, reference_like_spec
from tests.scheduler.harness import Harness, start_engine

IMPORT_MRID = "12345678-1234-1234-1234-123456789012"
EXPORT_MRID = "22345678-1234-1234-1234-123456789012"
CONTROLLER = ln("MaxPow_FSCC1")
SLOTS = tuple(ln(f"MaxPow_FSCH{i:02d}") for i in range(1, 9))
STATE_TOPIC = "relevent/v1/gw1/hedera/state"
REPLY_TOPIC = "hedera-requests/reply"
FIRM_W = 1000.0


@dataclass
class Published:
    """What the lifecycle sent: replies and retained states, and a way to wait for a reply."""

    messages: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, topic: str, payload: dict[str, Any], retain: bool, _correlation: bytes | None) -> None:
        json.dumps(payload)  # every message must be JSON
        self.messages.append((topic, payload, retain))
        self._changed.set()

    def states(self, request_id: str | None = None) -> list[str]:
        return [
            p["state"] for t, p, r in self.messages if not r and (request_id is None or p["id"] == request_id)
        ]

    def replies(self, state: str) -> list[dict[str, Any]]:
        return [p for _, p, r in self.messages if not r and p["state"] == state]

    def last_state(self) -> dict[str, Any]:
        return next(p for _, p, r in reversed(self.messages) if r)

    async def wait_for(self, state: str, count: int = 1, limit: float = 3600.0) -> dict[str, Any]:
        """Wait (in loop time) for the `count`-th reply in `state`."""
        async with asyncio.timeout(limit):
            while len(self.replies(state)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.replies(state)[count - 1]


@dataclass
class Rig:
    h: Harness
    fake: FakeHedera
    section: HederaSection
    intents: Intents
    published: Published
    audit: list[AuditEntry]
    lifecycle: HederaLifecycle
    store: HederaStore
    registry: CollectorRegistry
    task: asyncio.Task[None] | None = None

    def request(self, values: list[float], *, start: float, direction: str = "IMPORT", rid: str = "r1",
                resolution: str = "FIFTEEN_MINUTES") -> None:  # fmt: skip
        body = {"id": rid, "direction": direction, "start": {"seconds": int(start), "nanos": 0},
                "resolution": resolution, "values": values}  # fmt: skip
        self.lifecycle.submit(json.dumps(body).encode())

    def slot_values(self, slot: str, count: int) -> list[object]:
        return [self.h.value(f"{slot}.ValASG{i:03d}.setMag.f") for i in range(1, count + 1)]

    def output(self) -> float | None:
        output = self.h.engine.output(CONTROLLER)
        return None if output is None else float(output.value)  # type: ignore[arg-type]

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def section_for(fake: FakeHedera, secret: Path, **overrides: Any) -> HederaSection:
    ems = overrides.pop("ems", {})
    return HederaSection.model_validate({
        "enabled": True, "base_url": fake.url, "token_url": fake.token_url, "client_id": "client",
        "client_secret_file": secret,
        "import": {"mrid": IMPORT_MRID, "hedera_direction": "I", "firm_capacity_w": FIRM_W},
        "export": {"mrid": EXPORT_MRID, "hedera_direction": "E", "firm_capacity_w": FIRM_W},
        "ems": HederaEmsSection(**ems), **overrides,
    })  # fmt: skip


def build(h: Harness, fake: FakeHedera, section: HederaSection, store: HederaStore) -> Rig:
    registry = CollectorRegistry()
    metrics = HederaMetrics(registry)
    share = {"hedera": ActorSlots((20, 21), SLOTS)}
    intents = Intents(h.engine, share, now=h.clock.now)
    published = Published()
    audit: list[AuditEntry] = []
    client = HederaClient(section, section.client_secret(), h.clock.now, metrics)
    found = {name: Target(name, d, CONTROLLER, 1000.0, 700) for name, d in section.directions().items()}
    lifecycle = HederaLifecycle(section, found, intents, (20, 21), client, store, clock=h.clock.now,
                                publish=published, state_topic=STATE_TOPIC, metrics=metrics,
                                audit=audit.append)  # fmt: skip
    return Rig(h, fake, section, intents, published, audit, lifecycle, store, registry)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("secret\n")
    path.chmod(0o600)
    return path


class Rigs:
    """Builds rigs inside a test (looptime fakes the loop's time only there), and ends them afterwards."""

    def __init__(self, tmp_path: Path, secret: Path) -> None:
        self._tmp_path = tmp_path
        self._secret = secret
        self._made: list[Rig] = []

    async def __call__(self, h: Harness | None = None, **overrides: Any) -> Rig:
        """A running lifecycle; `overrides` replace `[hedera]` keys, `h` an engine to keep (a restart)."""
        h = h or start_engine(reference_like_spec(), self._tmp_path / "db")
        fake = self._made[-1].fake if self._made and h is self._made[-1].h else None
        if fake is None:
            fake = FakeHedera(h.clock.now, {IMPORT_MRID: "I", EXPORT_MRID: "E"})
            await fake.start()
        store = HederaStore(self._tmp_path / "hedera.sqlite3")
        rig = build(h, fake, section_for(fake, self._secret, **overrides), store)
        rig.task = asyncio.get_running_loop().create_task(rig.lifecycle.run())
        await asyncio.sleep(0)
        self._made.append(rig)
        return rig

    async def end(self, rig: Rig) -> None:
        """Stop a rig's lifecycle without the shutdown fallback (the fake and engine stay)."""
        rig.lifecycle._stopped.set()
        if rig.task is not None:
            await asyncio.wait([rig.task], timeout=60)
        rig.store.close()

    async def close(self) -> None:
        fakes = {id(rig.fake): rig.fake for rig in self._made}
        for rig in self._made:
            if rig.task is not None and not rig.task.done():
                await self.end(rig)
        for fake in fakes.values():
            await fake.stop()
        for h in {id(rig.h): rig.h for rig in self._made}.values():
            h.stop()


@pytest.fixture
async def rigs(tmp_path: Path, secret: Path) -> AsyncIterator[Rigs]:
    """The whole adapter core with the fake HEDERA: `rig = await rigs(**[hedera] overrides)` in the test."""
    factory = Rigs(tmp_path, secret)
    yield factory
    await factory.close()


__all__ = ["BASE"]
