"""A fake operator CSMS (2.0.1) for proxy mode: it answers a station's messages and records them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ocpp.v201 import ChargePoint, call
from ocpp.v201 import call_result as result
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from relevent.lan.ocpp.routing import on

_QUIET = logging.getLogger("tests.lan.ocpp.upstream.wire")
_QUIET.setLevel(logging.WARNING)
NOW = "2026-01-01T00:00:00Z"


@dataclass
class OperatorCsms:
    """What the operator saw: every CALL by action (in order), the credentials; its live session."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)
    session: _OperatorSession | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]

    def record(self, action: str, payload: dict[str, Any]) -> None:
        self.calls.append((action, payload))
        self.changed.set()

    async def wait(self, condition: Any, wait_s: float = 20.0) -> None:
        """Until `condition()` holds after some message."""
        async with asyncio.timeout(wait_s):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


class _OperatorSession(ChargePoint):  # type: ignore[misc]  # the library is untyped
    def __init__(self, csms: OperatorCsms, connection: ServerConnection) -> None:
        super().__init__("upstream", connection, response_timeout=10, logger=_QUIET)
        self.csms = csms

    @on("BootNotification")
    def on_boot(self, **payload: Any) -> result.BootNotification:
        self.csms.record("BootNotification", payload)
        return result.BootNotification(current_time=NOW, interval=300, status="Accepted")

    @on("StatusNotification")
    def on_status(self, **payload: Any) -> result.StatusNotification:
        self.csms.record("StatusNotification", payload)
        return result.StatusNotification()

    @on("TransactionEvent")
    def on_transaction(self, **payload: Any) -> result.TransactionEvent:
        self.csms.record("TransactionEvent", payload)
        return result.TransactionEvent(total_cost=1.5)

    @on("MeterValues")
    def on_meter_values(self, **payload: Any) -> result.MeterValues:
        self.csms.record("MeterValues", payload)
        return result.MeterValues()

    @on("Heartbeat")
    def on_heartbeat(self, **payload: Any) -> result.Heartbeat:
        self.csms.record("Heartbeat", payload)
        return result.Heartbeat(current_time=NOW)

    async def set_profile(
        self, profile_id: int, purpose: str, stack_level: int, limit_w: float, *, evse_id: int = 0,
        transaction_id: str | None = None,
    ) -> Any:
        """The operator's own profile (W, from the start of charging)."""
        profile: dict[str, Any] = {
            "id": profile_id, "stack_level": stack_level, "charging_profile_purpose": purpose,
            "charging_profile_kind": "Relative",
            "charging_schedule": [{"id": profile_id, "charging_rate_unit": "W",
                                   "charging_schedule_period": [{"start_period": 0, "limit": limit_w}]}],
        }  # fmt: skip
        if transaction_id is not None:
            profile["transaction_id"] = transaction_id
        request = call.SetChargingProfile(evse_id=evse_id, charging_profile=profile)
        return await self.call(request, suppress=False)


@asynccontextmanager
async def operator_csms(port: int = 0) -> AsyncIterator[OperatorCsms]:
    """The fake operator on loopback (`port` 0: a free one), until the block ends."""
    csms = OperatorCsms()

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        csms.authorization.append(connection.request.headers.get("Authorization"))
        session = _OperatorSession(csms, connection)
        csms.session = session
        csms.changed.set()
        with contextlib.suppress(ConnectionClosed):
            await session.start()

    async with serve(handler, "127.0.0.1", port, subprotocols=[Subprotocol("ocpp2.0.1")]) as server:
        csms.port = next(iter(server.sockets)).getsockname()[1]
        yield csms
