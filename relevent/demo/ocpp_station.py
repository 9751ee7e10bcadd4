"""A simulated OCPP 2.0.1 charging station: EVSEs with an EV each, profiles evaluated, meter values sent.

Each EVSE charges at its composite limit (the EV's maximum where nothing limits, 0 W below 6 A) and
reports every change at once (TransactionEvent ChargingRateChanged), as well as every
`meter_interval_s`. Quirks of real stations are options: A-only or W-only, stack level 0 only, profiles
"Accepted" but ignored, limits stored but not followed, ChargingStationMaxProfile refused.

    python -m relevent.demo.ocpp_station --url ws://127.0.0.1:8887/ocpp/cs-1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.v201 import ChargePoint, call
from ocpp.v201 import call_result as result
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from relevent.demo.ocpp_composite import STATION_MAX, Profile, ProfileStore
from relevent.lan.ocpp.routing import on
from relevent.waits import wait_set

_QUIET = logging.getLogger("relevent.demo.ocpp_station.wire")
_QUIET.setLevel(logging.WARNING)


@dataclass(frozen=True)
class StationOptions:
    """What the simulated station is like; the quirks default to a compliant station."""

    station_id: str = "cs-1"
    evses: int = 1
    phases: int = 3
    voltage_v: float = 230.0
    ev_max_w: float = 11040.0  # what an EV draws where nothing limits it: 16 A x 230 V x 3
    rate_units: str = "A,W"  # "A" or "W" for A-only or W-only stations
    stack_levels: int = 8  # the highest stack level it accepts (0: stack level 0 only)
    periods: int = 24
    meter_interval_s: float = 30.0
    password: bytes | None = None  # Basic auth (security profile 1/2)
    ignore_profiles: bool = False  # answers Accepted but stores nothing
    ignore_limits: bool = False  # stores profiles, the EV draws its maximum anyway
    refuse_station_max: bool = False  # rejects ChargingStationMaxProfile
    reject_profiles: str = ""  # rejects every profile with this reason (smart charging off in its settings)


@dataclass
class EvseSim:
    """One EVSE with an EV plugged in and charging (a transaction from the start)."""

    evse_id: int
    transaction_id: str | None = None
    tx_start: float | None = None
    seq_no: int = 0
    w: float = 0.0
    reported_w: float | None = None
    energy_wh: float = 0.0
    last_sample: float = 0.0
    last_reported: float = 0.0


def iso(ts: float) -> str:
    """An OCPP timestamp, whole seconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SimulatedStation:
    """The station's state (kept across reconnects unless it reboots) and its connection loop."""

    def __init__(self, options: StationOptions, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.store = ProfileStore()
        self.evses = {i: EvseSim(i) for i in range(1, options.evses + 1)}
        self.booted = False
        self.boots = 0
        self.set_requests: list[dict[str, Any]] = []  # every SetChargingProfile received, for tests
        self.set_times: list[float] = []  # when each of them arrived (the clock's time), for benches
        self.meter_reports: list[tuple[float, int, float]] = []  # (time, EVSE, W) of each one sent
        self.connection: ClientConnection | None = None
        self._changed = asyncio.Event()  # pulsed on every state change, for `wait_until`
        self._wake = asyncio.Event()  # the charging loop re-evaluates

    @property
    def watts_per_amp(self) -> float:
        """The power of 1 A per phase on all phases."""
        return self.options.voltage_v * self.options.phases

    def limit_w(self, evse_id: int, t: float | None = None) -> float:
        """The composite limit on `evse_id` now (or at `t`)."""
        evse = self.evses[evse_id]
        return self.store.limit_w(
            evse_id,
            self.clock() if t is None else t,
            evse.tx_start,
            self.watts_per_amp,
            self.options.ev_max_w,
        )

    def power_w(self, evse_id: int = 1) -> float:
        """What the EV on `evse_id` draws now: its limit, 0 below 6 A, the maximum when limits are ignored."""
        if self.evses[evse_id].transaction_id is None:
            return 0.0
        if self.options.ignore_limits:
            return self.options.ev_max_w
        limit = min(self.limit_w(evse_id), self.options.ev_max_w)
        return 0.0 if limit < 6.0 * self.watts_per_amp else limit

    def notify(self) -> None:
        """Wake waiters and the charging loop."""
        self._pulse()
        self._wake.set()

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], wait_s: float) -> None:
        """Return once `predicate()` holds; TimeoutError after `wait_s` seconds."""
        async with asyncio.timeout(wait_s):
            while not predicate():
                await self._changed.wait()

    async def run(self, url: str, ssl: Any = None, retry_s: float = 0.2) -> None:
        """Connect, serve, reconnect after `retry_s` whenever the connection ends; until cancelled."""
        headers = {}
        if self.options.password is not None:
            token = base64.b64encode(self.options.station_id.encode() + b":" + self.options.password).decode()
            headers["Authorization"] = f"Basic {token}"
        while True:
            try:
                async with connect(
                    url,
                    subprotocols=[Subprotocol("ocpp2.0.1")],
                    additional_headers=headers,
                    ssl=ssl,
                    proxy=None,
                    open_timeout=10,
                ) as connection:
                    await self._session(connection)
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                pass
            await asyncio.sleep(retry_s)

    async def drop(self, reboot: bool = False) -> None:
        """Close the connection (it reconnects); `reboot` also forgets profiles and transactions."""
        if reboot:
            self.store = ProfileStore()
            self.evses = {i: EvseSim(i) for i in self.evses}
            self.booted = False
        if self.connection is not None:
            await self.connection.close()

    async def _session(self, connection: ClientConnection) -> None:
        self.connection = connection
        link = _StationLink(self, connection)
        receiver = asyncio.create_task(link.start())
        try:
            await self._behave(link, receiver)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await receiver
            self.connection = None
            self.notify()

    async def _behave(self, link: _StationLink, receiver: asyncio.Task[None]) -> None:
        options = self.options
        if not self.booted:
            await link.call(
                call.BootNotification(
                    charging_station={"model": "relevent-sim", "vendor_name": "relevent"}, reason="PowerUp"
                ),
                suppress=False,
            )
            self.booted = True
            self.boots += 1
        for evse in self.evses.values():
            await link.call(
                call.StatusNotification(
                    timestamp=iso(self.clock()),
                    connector_status="Occupied",
                    evse_id=evse.evse_id,
                    connector_id=1,
                ),
                suppress=False,
            )
            if evse.transaction_id is None:
                evse.transaction_id = uuid.uuid4().hex[:16]
                evse.tx_start = evse.last_sample = self.clock()
                evse.w = self.power_w(evse.evse_id)
                await self._transaction_event(link, evse, "Started", "CablePluggedIn")
        self.notify()
        while not receiver.done():
            self._wake.clear()  # before evaluating: a profile arriving meanwhile wakes the next round
            now = self.clock()
            for evse in self.evses.values():
                w = self.power_w(evse.evse_id)
                evse.energy_wh += evse.w * (now - evse.last_sample) / 3600.0
                evse.last_sample, evse.w = now, w
                if evse.reported_w != w:
                    await self._transaction_event(link, evse, "Updated", "ChargingRateChanged")
                elif now - evse.last_reported >= options.meter_interval_s:
                    await self._transaction_event(link, evse, "Updated", "MeterValuePeriodic")
            self._pulse()
            tx_start = min((e.tx_start for e in self.evses.values() if e.tx_start is not None), default=None)
            deadline = min(self.store.next_change(now, tx_start), now + options.meter_interval_s)
            # a boundary is evaluated on its own second, not before it
            await wait_set(self._wake, max(0.0, deadline - self.clock()) + 0.001)
        receiver.result()

    async def _transaction_event(
        self, link: _StationLink, evse: EvseSim, event_type: str, trigger: str
    ) -> None:
        now = self.clock()
        suspended = evse.w == 0.0
        meter = [
            {
                "timestamp": iso(now),
                "sampled_value": [
                    {"value": evse.w, "measurand": "Power.Active.Import"},
                    {"value": round(evse.energy_wh, 1), "measurand": "Energy.Active.Import.Register"},
                    {"value": self.options.voltage_v, "measurand": "Voltage"},
                ],
            }
        ]
        await link.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=iso(now),
                trigger_reason=trigger,
                seq_no=evse.seq_no,
                transaction_info={
                    "transaction_id": evse.transaction_id,
                    "charging_state": "SuspendedEVSE" if suspended else "Charging",
                },
                evse={"id": evse.evse_id, "connector_id": 1},
                meter_value=meter,
                number_of_phases_used=self.options.phases,
            ),
            suppress=False,
        )
        evse.seq_no += 1
        evse.reported_w = evse.w
        evse.last_reported = now
        self.meter_reports.append((now, evse.evse_id, evse.w))


class _StationLink(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """The station's side of one connection: the CSMS's commands on the station's state."""

    def __init__(self, station: SimulatedStation, connection: ClientConnection) -> None:
        super().__init__(station.options.station_id, connection, response_timeout=10, logger=_QUIET)
        self.station = station

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> result.GetVariables:
        options = self.station.options
        known = {
            "RateUnit": options.rate_units,
            "ProfileStackLevel": str(options.stack_levels),
            "PeriodsPerSchedule": str(options.periods),
            "Entries": "16",
        }
        results = []
        for item in get_variable_data:
            name = item["variable"]["name"]
            value = known.get(name) if item["component"]["name"] == "SmartChargingCtrlr" else None
            results.append(
                {
                    "attribute_status": "Accepted" if value is not None else "UnknownVariable",
                    "component": item["component"],
                    "variable": item["variable"],
                    **({"attribute_value": value} if value is not None else {}),
                }
            )
        return result.GetVariables(get_variable_result=results)

    @on("SetChargingProfile")
    def on_set_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> result.SetChargingProfile:
        station, options = self.station, self.station.options
        station.set_requests.append({"evse_id": evse_id, **charging_profile})
        station.set_times.append(station.clock())
        reason = self._refusal(evse_id, charging_profile)
        if reason:
            return result.SetChargingProfile(status="Rejected", status_info={"reason_code": reason})
        if not options.ignore_profiles:
            station.store.clear(profile_id=int(charging_profile["id"]))
            station.store.install(Profile(evse_id, charging_profile))
            station.notify()
        return result.SetChargingProfile(status="Accepted")

    def _refusal(self, evse_id: int, body: dict[str, Any]) -> str:
        """The reason the station rejects the profile, "" where it takes it."""
        options = self.station.options
        schedule = body["charging_schedule"][0]
        station_max = body["charging_profile_purpose"] == STATION_MAX
        reasons = (
            (options.reject_profiles, options.reject_profiles),
            (station_max and options.refuse_station_max, "LoadBalancerDisabled"),
            (station_max and evse_id != 0, "InvalidEvse"),
            (int(body["stack_level"]) > options.stack_levels, "InvalidStackLevel"),
            (schedule["charging_rate_unit"] not in options.rate_units.split(","), "UnsupportedRateUnit"),
            (len(schedule["charging_schedule_period"]) > options.periods, "TooManyPeriods"),
            (self.station.store.conflict(Profile(evse_id, body)), "DuplicateProfile"),
        )
        return next((reason for refused, reason in reasons if refused), "")

    @on("ClearChargingProfile")
    def on_clear_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> result.ClearChargingProfile:
        criteria = charging_profile_criteria or {}
        found = self.station.store.clear(
            charging_profile_id,
            criteria.get("charging_profile_purpose"),
            criteria.get("stack_level"),
            criteria.get("evse_id"),
        )
        self.station.notify()
        return result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @on("GetCompositeSchedule")
    def on_composite(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> result.GetCompositeSchedule:
        station = self.station
        unit = charging_rate_unit or station.options.rate_units.split(",")[0]
        now = math.floor(station.clock())
        evse = station.evses.get(evse_id)
        tx_start = evse.tx_start if evse is not None else None
        periods: list[dict[str, Any]] = []
        t = float(now)
        while t < now + duration:
            w = station.limit_w(evse_id, t) if evse is not None else station.options.ev_max_w
            limit = round(w / station.watts_per_amp, 1) if unit == "A" else round(w, 1)
            if not periods or periods[-1]["limit"] != limit:
                periods.append({"start_period": int(t - now), "limit": limit})
            t = station.store.next_change(t, tx_start)
        schedule = {
            "evse_id": evse_id,
            "duration": duration,
            "schedule_start": iso(now),
            "charging_rate_unit": unit,
            "charging_schedule_period": periods,
        }
        return result.GetCompositeSchedule(status="Accepted", schedule=schedule)


def main(argv: list[str] | None = None) -> None:
    """Run one simulated station against a CSMS until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="ws://host:port/path/<station id>")
    parser.add_argument("--evses", type=int, default=1)
    parser.add_argument("--rate-units", default="A,W", choices=["A,W", "A", "W"])
    parser.add_argument("--stack-levels", type=int, default=8)
    parser.add_argument("--meter-interval", type=float, default=30.0)
    parser.add_argument("--password-file", type=Path)
    for quirk in ("ignore-profiles", "ignore-limits", "refuse-station-max"):
        parser.add_argument(f"--{quirk}", action="store_true")
    parser.add_argument("--reject-profiles", default="", metavar="REASON")
    args = parser.parse_args(argv)
    options = StationOptions(
        station_id=args.url.rstrip("/").rsplit("/", 1)[-1],
        evses=args.evses,
        rate_units=args.rate_units,
        stack_levels=args.stack_levels,
        meter_interval_s=args.meter_interval,
        password=args.password_file.read_bytes().rstrip(b"\r\n") if args.password_file else None,
        ignore_profiles=args.ignore_profiles,
        ignore_limits=args.ignore_limits,
        refuse_station_max=args.refuse_station_max,
        reject_profiles=args.reject_profiles,
    )

    async def serve() -> None:
        await SimulatedStation(options).run(args.url, retry_s=2.0)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
