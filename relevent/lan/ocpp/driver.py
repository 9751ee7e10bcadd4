"""The OCPP driver: the gateway as the CSMS its stations dial, one station per configured device."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Sequence

import structlog
from prometheus_client import CollectorRegistry
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.typing import Subprotocol

from relevent.lan.driver import DeviceHealth, DeviceIntent, DevicePlan, DeviceReports, HealthReport
from relevent.lan.ocpp.config import OcppSection
from relevent.lan.ocpp.handshake import Admission
from relevent.lan.ocpp.metrics import OcppMetrics
from relevent.lan.ocpp.relay import Relay, station_headers
from relevent.lan.ocpp.session import CsmsSession
from relevent.lan.ocpp.station import Station
from relevent.lan.ocpp.steering import Steering
from relevent.lan.ocpp.units import Electrical
from relevent.lan.ocpp.v16 import Csms16
from relevent.lan.ocpp.v21 import Csms21
from relevent.lan.ocpp.v201 import Csms201
from relevent.waits import wait_set

log = structlog.get_logger(__name__)

# The versions served, the newest first: a station offering several gets the newest.
SESSIONS: dict[str, type[CsmsSession]] = {"ocpp2.1": Csms21, "ocpp2.0.1": Csms201, "ocpp1.6": Csms16}
SUBPROTOCOLS = [Subprotocol(name) for name in SESSIONS]
# Proxy mode relays in the station's version, which the operator's CSMS may not speak yet if it is 2.1;
# and proxy mode carries no discharge, 2.1's gain: 2.0.1 comes first there.
PROXIED = [Subprotocol(name) for name in ("ocpp2.0.1", "ocpp2.1", "ocpp1.6")]
# Frames up to this multiple of `max_message_bytes` are read and answered with a CallError; larger
# ones close the connection (1009) before they fill the memory.
HARD_LIMIT_FACTOR = 16
UPSTREAM_WAIT_S = 5.0  # proxy mode: how long a connecting station waits for its operator's CSMS


class OcppDriver:
    """Serves `[ocpp]` for the stations `station_ids`; intents and plans may arrive before `run`."""

    protocol = "ocpp"

    def __init__(
        self,
        section: OcppSection,
        station_ids: Iterable[str],
        *,
        clock: Callable[[], float] = time.time,
        settle_s: float = 10.0,
        metrics: OcppMetrics | None = None,
    ) -> None:
        self.section = section
        self.metrics = metrics or OcppMetrics(CollectorRegistry())
        self.clock = clock
        self.settle_s = settle_s
        electrical = Electrical(section.voltage_v, section.phases)
        self.stations = {station_id: Station(station_id, electrical) for station_id in station_ids}
        self.listening = asyncio.Event()  # set once `run` listens, on `port`
        self.port: int | None = None
        # The gateway's start-up reservation of the port (see `relevent.instance.reserve_port`): served on
        # as it is, so no other process can take the port between the start and `run`.
        self.reserved: socket.socket | None = None
        self._steering: dict[str, Steering] = {}
        self._connections: dict[str, ServerConnection] = {}

    def apply(self, intent: DeviceIntent) -> None:
        """The station's newest intent; its profiles follow as soon as it is connected."""
        if (station := self._station(intent.device_id)) is not None:
            station.intent = intent
            station.wake.set()

    def apply_plan(self, plan: DevicePlan) -> None:
        """The station's newest plan: it runs on the station as a profile over the horizon."""
        if (station := self._station(plan.device_id)) is not None:
            station.plan = plan
            station.wake.set()

    def _station(self, device_id: str) -> Station | None:
        station = self.stations.get(device_id)
        if station is None:
            log.warning("ocpp_unknown_device", device=device_id)
        return station

    async def run(self, reports: DeviceReports) -> None:
        """Listen until cancelled (on the `reserved` socket first); a failed listen is logged and retried."""
        self._steering = {
            sid: Steering(station, self.section, reports, self.clock, self.settle_s)
            for sid, station in self.stations.items()
        }
        for station_id in self.stations:
            reports.on_health(HealthReport(station_id, DeviceHealth.UNREACHABLE, None, "not connected yet"))
        section = self.section
        admission = Admission(
            section.path,
            {
                sid: section.stations[sid].password() if sid in section.stations else None
                for sid in self.stations
            },
            certificates=section.ca_file is not None,
        )
        while True:
            try:
                reserved, self.reserved = self.reserved, None
                host, port = (None, None) if reserved else (section.host, section.port)
                server = await serve(
                    self._serve,
                    host,
                    port,
                    sock=reserved,
                    subprotocols=SUBPROTOCOLS,
                    select_subprotocol=self._select,
                    process_request=admission,
                    max_size=section.max_message_bytes * HARD_LIMIT_FACTOR,
                    ssl=section.ssl_context(),
                )
            except OSError as exc:
                log.exception("ocpp_listen_failed", host=section.host, port=section.port, error=str(exc))
                await asyncio.sleep(5.0)
                continue
            async with server:
                self._announce(server)
                await server.serve_forever()

    def _select(self, connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol:
        """The version the station gets: the newest it offers (2.0.1 first for a proxied station)."""
        assert connection.request is not None  # selected while the handshake is read
        entry = self.section.stations.get(_station_id(connection.request.path))
        order = PROXIED if entry is not None and entry.upstream_url is not None else SUBPROTOCOLS
        chosen = next((name for name in order if name in offered), None)
        if chosen is None:
            raise NegotiationError(f"no OCPP version in common: {', '.join(offered) or 'none'} offered")
        return chosen

    def _announce(self, server: Server) -> None:
        self.port = next(iter(server.sockets)).getsockname()[1]
        log.info("ocpp_listening", host=self.section.host, port=self.port, path=self.section.path)
        self.listening.set()

    async def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # the handshake is done
        station_id = _station_id(connection.request.path)
        station = self.stations[station_id]
        steering = self._steering[station_id]
        previous = self._connections.get(station_id)
        if previous is not None:  # the station reconnected before its old socket timed out
            await previous.close(1000, "replaced by a new connection")
        self._connections[station_id] = connection
        section = self.section
        assert connection.subprotocol is not None  # websockets refuses a handshake without a common one
        link = SESSIONS[connection.subprotocol](
            station,
            connection,
            steering,
            max_bytes=section.max_message_bytes,
            heartbeat_s=section.heartbeat_s,
            response_timeout_s=section.response_timeout_s,
            clock=self.clock,
            calls=self.metrics.call_seconds,
        )
        station.connected = True
        station.ocpp_version = link.ocpp_version
        station.forget_installed()  # whatever it held may have changed while it was away
        log.info("ocpp_connected", station=station_id, subprotocol=connection.subprotocol)
        tasks = [asyncio.create_task(steering.run(link), name=f"ocpp-steer-{station_id}")]
        entry = section.stations.get(station_id)
        if entry is not None and entry.upstream_url is not None:
            link.relay = Relay(
                station_id, link, f"{entry.upstream_url.rstrip('/')}/{station_id}",
                headers=station_headers(connection.request.headers.get("Authorization")),
                ssl_context=entry.upstream_ssl(), reserved=station, metrics=self.metrics,
                response_timeout_s=section.response_timeout_s, retry_s=section.upstream_retry_s,
            )  # fmt: skip
            tasks.append(asyncio.create_task(link.relay.run(), name=f"ocpp-upstream-{station_id}"))
        try:
            if link.relay is not None:  # the station's first frames (its boot) are the operator's to see
                await wait_set(link.relay.connected, UPSTREAM_WAIT_S)
            await link.start()
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._connections.get(station_id) is connection:
                del self._connections[station_id]
                station.connected = False
                steering.report(DeviceHealth.UNREACHABLE, "disconnected")
            log.info("ocpp_disconnected", station=station_id)


def _station_id(path: str) -> str:
    """The station a request path names (its last segment; the admission checked the rest)."""
    return path.split("?", 1)[0].rsplit("/", 1)[-1]
