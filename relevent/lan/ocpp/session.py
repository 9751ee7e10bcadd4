"""What every OCPP version's CSMS session shares: framing checks, the heartbeat, meter values to events."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from ocpp.charge_point import ChargePoint, camel_to_snake_case
from prometheus_client import Histogram

from relevent.lan.ocpp.frames import frame_error
from relevent.lan.ocpp.link import LinkEvents
from relevent.lan.ocpp.readings import iso, sampled
from relevent.lan.ocpp.relay import Relay
from relevent.lan.ocpp.routing import on
from relevent.lan.ocpp.station import Station

log = structlog.get_logger(__name__)
_QUIET = logging.getLogger("relevent.lan.ocpp.wire")  # the library logs every frame at INFO
_QUIET.setLevel(logging.WARNING)


class CsmsSession(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """One station's connection; the station's state outlives it.

    A version's class lists this first, then the library's ChargePoint of its version (its messages).
    """

    ocpp_version: str

    def __init__(  # noqa: PLR0913 - the station, its socket, its listener and the section's settings
        self,
        station: Station,
        connection: Any,
        events: LinkEvents,
        *,
        max_bytes: int,
        heartbeat_s: int,
        response_timeout_s: float,
        clock: Callable[[], float],
        calls: Histogram | None = None,
    ) -> None:
        super().__init__(station.station_id, connection, response_timeout=response_timeout_s, logger=_QUIET)
        self._calls = calls
        self.station = station
        self.events = events
        self.max_bytes = max_bytes
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.relay: Relay | None = None  # proxy mode: the station's operator CSMS

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Answer a frame that is no OCPP message with a CallError; the rest to the relay or the library.

        In proxy mode the relay takes what is the operator's to answer, or an answer to the operator.
        """
        error = frame_error(raw_msg, self.max_bytes, self.ocpp_version)
        if error is not None:
            log.warning("ocpp_bad_frame", station=self.id, error=error[:200])
            await self._send(error)
            return
        assert isinstance(raw_msg, str)  # a binary frame has its CallError
        if self.relay is None or not await self.relay.from_station(raw_msg):
            await super().route_message(raw_msg)

    async def call(
        self, payload: Any, suppress: bool = True, unique_id: Any = None, skip_schema_validation: bool = False
    ) -> Any:
        """The library's CALL, timed by action from the asking to the answer (or the timeout).

        A station takes one outstanding CALL: a wait for the one before counts too.
        """
        began = time.perf_counter()
        try:
            return await super().call(payload, suppress, unique_id, skip_schema_validation)
        finally:
            if self._calls is not None:
                self._calls.labels(type(payload).__name__).observe(time.perf_counter() - began)

    async def send_raw(self, frame: str) -> None:
        """A frame to the station as it is (relayed from its operator)."""
        await self._send(frame)

    @property
    def call_lock(self) -> asyncio.Lock:
        """Held while a CALL to the station is outstanding: the gateway's or its operator's."""
        lock: asyncio.Lock = self._call_lock
        return lock

    def observe(self, action: str, payload: dict[str, Any]) -> None:
        """Read a station's CALL that its operator answers: the handler's effects, not its answer."""
        handler = self.route_map.get(action, {}).get("_on_action")
        if handler is None:
            return
        try:
            handler(**camel_to_snake_case(payload))
        except Exception as exc:  # noqa: BLE001 - a payload the operator takes and the gateway cannot read
            log.warning("ocpp_unreadable", station=self.id, action=action, error=str(exc))

    def observe_result(self, action: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        """Read the operator's answer to a station's CALL (a version with ids from the CSMS reads them)."""

    def reassert(self) -> None:
        """The operator cleared profiles: the steering installs the gateway's again."""
        self.station.installed.clear()
        self.station.wake.set()

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        """The time, which is the station's only clock sync."""
        return self._call_result.Heartbeat(current_time=iso(self.clock()))

    def measured(
        self,
        evse_id: int,
        meter_values: Iterable[Mapping[str, Any]],
        phases: int | None,
        value_of: Callable[[Mapping[str, Any]], float],
    ) -> None:
        """Each meter value of `evse_id` to the events (`phases` where the message itself names them)."""
        for ts, w, sampled_phases, voltage in sampled(meter_values, self.clock(), value_of):
            self.events.measured(evse_id, ts, w, phases or sampled_phases, voltage)
