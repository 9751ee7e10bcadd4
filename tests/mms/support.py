"""Test support for the MMS server: models, a fake of the scheduler seam, and a running server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from relevent.config import ReportsMode, ServeMode
from relevent.ports import free_port
from relevent.scl.model import SclDocument
from relevent.wan.mms import (
    ACCEPTED,
    Actor,
    ControlValue,
    ControlVerdict,
    GuardSettings,
    MmsServer,
    MmsSettings,
    Verdict,
)
from relevent.wan.mms.admission import LIBRARY_MAX_CONNECTIONS, ConnectionLimits
from relevent.wan.mms.gate import WriteValue
from relevent.wan.mms.security import Credentials, TlsFiles
from relevent.wan.mms.throttle import ThrottleSettings

HOST = "127.0.0.1"
LD = "DER_Scheduler_Control"
# Every test client comes from HOST, unless it binds another loopback address: no limit per peer.
ONE_HOST = ConnectionLimits(per_peer=LIBRARY_MAX_CONNECTIONS)
# Both ways of serving, for the tests of what a client sees whoever answers it.
BOTH_SERVES = pytest.mark.parametrize("serve", ["thread", "loop"])
# Tests that refuse a password and then accept one from the same host: next to no refusal in between.
BARELY = ThrottleSettings(delay_s=0.001, max_delay_s=0.001)


@dataclass
class PolicyGate:
    """A fake of the scheduler seam: per-reference write rules and control answers, with a call log."""

    rules: dict[str, Callable[[WriteValue], Verdict]] = field(default_factory=dict)
    controls: dict[str, ControlVerdict] = field(default_factory=dict)
    writes: list[tuple[str, WriteValue, Actor]] = field(default_factory=list)
    operates: list[tuple[str, ControlValue, bool, Actor]] = field(default_factory=list)

    def writable_refs(self) -> list[str]:
        return list(self.rules)

    def write(self, ref: str, value: WriteValue, actor: Actor) -> Verdict:
        self.writes.append((ref, value, actor))
        return self.rules[ref](value)

    def operate(self, ref: str, ctl_val: ControlValue, test: bool, actor: Actor) -> ControlVerdict:
        self.operates.append((ref, ctl_val, test, actor))
        return self.controls.get(ref, ACCEPTED)


@asynccontextmanager
async def running(
    doc: SclDocument,
    gate: PolicyGate,
    *,
    reports: ReportsMode = "auto",
    serve: ServeMode = "auto",
    tls: TlsFiles | None = None,
    credentials: Credentials | None = None,
    guard: GuardSettings | None = None,
    registry: CollectorRegistry | None = None,
    limits: ConnectionLimits = ONE_HOST,
    throttle: ThrottleSettings = BARELY,
) -> AsyncIterator[MmsServer]:
    """An MMS server on a free loopback port, served by the current event loop, closed afterwards."""
    settings = MmsSettings(host=HOST, port=free_port(), reports=reports, serve=serve, tls=tls,
                           credentials=credentials, guard=guard or GuardSettings(), limits=limits,
                           throttle=throttle)  # fmt: skip
    server = MmsServer.build(doc, gate, settings, registry)
    try:
        server.start()
        task = asyncio.create_task(server.serve())
        try:
            yield server
        finally:
            server.stop()
            await task
    finally:
        server.close()

