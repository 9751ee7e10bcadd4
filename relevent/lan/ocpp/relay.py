"""Proxy mode: a station stays on its operator's CSMS; the gateway in between adds the grid's limits.

Every frame is relayed both ways unchanged, except:
- the operator may not set the station maximum, use the gateway's stack levels or its profile ids: such
  a SetChargingProfile (or ClearChargingProfile of a gateway profile) is answered by the gateway,
  Rejected (Unknown), logged and counted;
- after any other ClearChargingProfile of the operator the gateway asserts its profiles again;
- the gateway reads the station's messages too (boots, transactions, meter values);
- while the operator is unreachable the gateway answers the station itself, and replays nothing when
  it returns (stale meter values would mislead a backend that has its own retries).
The operator's calls and the gateway's share the one outstanding CALL a station allows, so their message
ids never meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from typing import Any, Protocol

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from relevent.lan.ocpp.metrics import OcppMetrics
from relevent.waits import wait_set

log = structlog.get_logger(__name__)

CALL, CALLRESULT = 2, 3
STATION_MAX = frozenset({"ChargingStationMaxProfile", "ChargePointMaxProfile"})


class RelayedSession(Protocol):
    """The station's session, as the relay uses it."""

    ocpp_version: str

    async def send_raw(self, frame: str) -> None:
        """Send a frame to the station as it is."""
        ...

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Handle a station's frame (the relay answers it locally with this)."""
        ...

    @property
    def call_lock(self) -> asyncio.Lock:
        """Held while a CALL to the station is outstanding."""
        ...

    def observe(self, action: str, payload: dict[str, Any]) -> None:
        """Read a station's CALL that the operator answers."""
        ...

    def observe_result(self, action: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        """Read the operator's answer to a station's CALL."""
        ...

    def reassert(self) -> None:
        """The operator cleared profiles: install the gateway's again."""
        ...


class Reserved(Protocol):
    """What of the station's profile space is the gateway's."""

    def stack_levels(self) -> frozenset[int]:
        """The levels the gateway's profiles use."""
        ...

    def profile_ids(self) -> frozenset[int]:
        """The ids the gateway's profiles use."""
        ...


class Relay:
    """One station's link to its operator's CSMS, for as long as the station is connected (`run`)."""

    def __init__(  # noqa: PLR0913 - the session, where to connect and how, the station's reserved space
        self,
        station_id: str,
        session: RelayedSession,
        url: str,
        *,
        headers: dict[str, str],
        ssl_context: ssl.SSLContext | None,
        reserved: Reserved,
        metrics: OcppMetrics,
        response_timeout_s: float,
        retry_s: float = 5.0,
    ) -> None:
        self.station_id = station_id
        self.session = session
        self.url = url
        self.headers = headers
        self.ssl_context = ssl_context
        self.reserved = reserved
        self.metrics = metrics
        self.response_timeout_s = response_timeout_s
        self.retry_s = retry_s
        self.upstream: ClientConnection | None = None
        self.connected = asyncio.Event()  # set while `upstream` is up
        # the station's CALLs the operator has not answered yet, by id: action, payload, frame
        self._forwarded: dict[str, tuple[str, dict[str, Any], str]] = {}
        self._held: tuple[str, str] | None = None  # the operator's CALL the station holds: id, action
        self._answered = asyncio.Event()
        self._calls: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Connect, relay, reconnect after `retry_s`; until cancelled."""
        gauge = self.metrics.upstream_connected.labels(self.station_id)
        while True:
            try:
                async with connect(
                    self.url,
                    subprotocols=[Subprotocol(f"ocpp{self.session.ocpp_version}")],
                    additional_headers=self.headers,
                    ssl=self.ssl_context,
                    proxy=None,
                    open_timeout=10,
                ) as upstream:
                    self.upstream = upstream
                    self.connected.set()
                    gauge.set(1)
                    log.info("ocpp_upstream_connected", station=self.station_id, url=self.url)
                    async for frame in upstream:
                        await self._from_upstream(frame)
            except (OSError, InvalidHandshake, InvalidURI, ConnectionClosed, TimeoutError) as exc:
                log.warning("ocpp_upstream_unreachable", station=self.station_id, error=str(exc))
            finally:
                self.upstream = None
                self.connected.clear()
                gauge.set(0)
                for task in self._calls:
                    task.cancel()
            await self._answer_locally()
            await asyncio.sleep(self.retry_s)

    async def from_station(self, frame: str) -> bool:
        """Relay a station's frame if it is the operator's to answer or an answer to the operator."""
        message = json.loads(frame)  # checked by the session's frame check before
        unique_id = message[1]
        if message[0] == CALL:
            if self.upstream is None:
                return False  # the gateway answers while the operator is away
            action, payload = message[2], message[3]
            self.session.observe(action, payload)
            self._forwarded[unique_id] = (action, payload, frame)
            await self._send_up(frame)
            return True
        if self._held is None or self._held[0] != unique_id:
            return False  # the answer to the gateway's own CALL
        action = self._held[1]
        self._held = None
        self._answered.set()
        await self._send_up(frame)
        if action == "ClearChargingProfile":
            self.session.reassert()
        return True

    async def _from_upstream(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
            kind, unique_id = message[0], str(message[1])
        except (ValueError, TypeError, IndexError, KeyError):
            log.warning("ocpp_upstream_bad_frame", station=self.station_id, frame=str(frame)[:200])
            return
        if kind == CALL:
            answer = self._refusal(message[2], message[3])
            if answer is not None:
                action = message[2]
                self.metrics.upstream_refused.labels(self.station_id, action).inc()
                log.warning("ocpp_upstream_refused", station=self.station_id, action=action, answer=answer)
                await self._send_up(json.dumps([CALLRESULT, unique_id, answer]))
                return
            task = asyncio.create_task(self._call_station(unique_id, message[2], str(frame)))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
            return
        forwarded = self._forwarded.pop(unique_id, None)
        if forwarded is None:
            log.warning("ocpp_upstream_unmatched", station=self.station_id, id=unique_id)
            return
        action, request, _ = forwarded
        await self.session.send_raw(str(frame))
        if kind == CALLRESULT:
            self.session.observe_result(action, request, message[2])

    async def _call_station(self, unique_id: str, action: str, frame: str) -> None:
        """The operator's CALL, as the station's one outstanding CALL from its CSMS side."""
        async with self.session.call_lock:
            self._held = (unique_id, action)
            self._answered.clear()
            await self.session.send_raw(frame)
            await wait_set(self._answered, self.response_timeout_s)
            self._held = None

    def _refusal(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The gateway's own answer to an operator's CALL on its profiles, None to relay it."""
        if action == "SetChargingProfile":
            profile = payload.get("chargingProfile") or payload.get("csChargingProfiles") or {}
            profile_id = profile.get("id", profile.get("chargingProfileId"))
            if (
                profile.get("chargingProfilePurpose") in STATION_MAX
                or profile.get("stackLevel") in self.reserved.stack_levels()
                or profile_id in self.reserved.profile_ids()
            ):
                return self._status("Rejected")
        if action == "ClearChargingProfile":
            profile_id = payload.get("chargingProfileId", payload.get("id"))
            if profile_id in self.reserved.profile_ids():
                return self._status("Unknown")
        return None

    def _status(self, status: str) -> dict[str, Any]:
        if self.session.ocpp_version == "1.6":
            return {"status": status}
        return {"status": status, "statusInfo": {"reasonCode": "ReservedByGateway"}}

    async def _send_up(self, frame: str) -> None:
        upstream = self.upstream
        if upstream is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await upstream.send(frame)

    async def _answer_locally(self) -> None:
        """The station's CALLs the operator left unanswered: the gateway answers them."""
        pending, self._forwarded = list(self._forwarded.values()), {}
        for _, _, frame in pending:
            await self.session.route_message(frame)


def station_headers(authorization: str | None) -> dict[str, str]:
    """The station's own credentials, for its operator."""
    return {"Authorization": authorization} if authorization else {}
