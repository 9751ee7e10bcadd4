"""A simulated OCPP 2.0.1, 2.1 or 1.6J charging station: EVSEs with an EV each, profiles run, meters sent.

Each EVSE charges at its composite limit (the EV's maximum where nothing limits, 0 W below 6 A) and
reports every change at once (TransactionEvent ChargingRateChanged; 1.6: MeterValues), as well as every
`meter_interval_s`. Quirks of real stations are options: A-only or W-only, stack level 0 only, profiles
"Accepted" but ignored, limits stored but not followed, ChargingStationMaxProfile refused. The state and the
charging loop serve every version; a `StationSide` per version sends and answers the messages
(`Station201` and `Station21` here, `Station16` in ocpp_station16).

With `v2x` (OCPP 2.1) the EVs are bidirectional, as in an ISO 15118-20 BPT session: each reports its
charging needs with V2X parameters once its transaction started, follows a CentralSetpoint's discharge
(up to `ev_max_discharge_w`) and meters it as export (Power.Active.Export, Energy.Active.Export.Register).

    python -m relevent.demo.ocpp_station --url ws://127.0.0.1:8887/ocpp/cs-1 [--ocpp-version 2.1 --v2x]
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
from pathlib import Path
from typing import Any, Protocol

from ocpp import v21
from ocpp.v201 import ChargePoint
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from relevent.demo.ocpp_composite import STATION_MAX, Profile, ProfileStore, iso
from relevent.demo.ocpp_station16 import Station16
from relevent.lan.ocpp.routing import on
from relevent.waits import wait_set

_QUIET = logging.getLogger("relevent.demo.ocpp_station.wire")
_QUIET.setLevel(logging.WARNING)
VERSIONS = ("2.1", "2.0.1", "1.6")
CENTRAL_SETPOINT = "CentralSetpoint"


@dataclass(frozen=True)
class StationOptions:
    """What the simulated station is like; the quirks default to a compliant station."""

    station_id: str = "cs-1"
    version: str = "2.0.1"  # the OCPP it speaks: "2.1", "2.0.1" or "1.6" (1.6J)
    evses: int = 1
    phases: int = 3
    voltage_v: float = 230.0
    ev_max_w: float = 11040.0  # what an EV draws where nothing limits it: 16 A x 230 V x 3
    v2x: bool = False  # 2.1 only: bidirectional EVs (ISO 15118-20 AC BPT) and station
    ev_max_discharge_w: float = 11040.0  # the most a bidirectional EV discharges
    rate_units: str = "A,W"  # "A" or "W" for A-only or W-only stations
    stack_levels: int = 8  # the highest stack level it accepts (0: stack level 0 only)
    periods: int = 24
    meter_interval_s: float = 30.0
    password: bytes | None = None  # Basic auth (security profile 1/2)
    ignore_profiles: bool = False  # answers Accepted but stores nothing
    ignore_limits: bool = False  # stores profiles, the EV draws its maximum anyway
    refuse_station_max: bool = False  # rejects ChargingStationMaxProfile
    reject_profiles: str = ""  # rejects every profile with this reason (smart charging off in its settings)

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"OCPP version {self.version!r}: one of {', '.join(VERSIONS)}")
        if self.v2x and self.version != "2.1":
            raise ValueError("v2x needs OCPP 2.1: earlier versions carry no discharge")


@dataclass
class EvseSim:
    """One EVSE with an EV plugged in and charging (a transaction from the start)."""

    evse_id: int
    transaction_id: str | None = None  # 1.6: the CSMS's integer, as text
    tx_start: float | None = None
    seq_no: int = 0
    w: float = 0.0  # imported: negative while discharging
    reported_w: float | None = None
    energy_wh: float = 0.0
    export_wh: float = 0.0
    last_sample: float = 0.0
    last_reported: float = 0.0


class StationSide(Protocol):
    """The station's side of one connection in one OCPP version: its messages; the CSMS's are its handlers."""

    async def start(self) -> None:
        """Receive and answer the CSMS's messages until the connection ends."""

    async def boot(self) -> None:
        """Tell the CSMS the station is up (BootNotification)."""

    async def status(self, evse: EvseSim) -> None:
        """Tell the CSMS what `evse` is doing (StatusNotification)."""

    async def open_transaction(self, evse: EvseSim) -> str:
        """The id of the transaction starting on `evse` (the station's in 2.0.1, the CSMS's in 1.6)."""
        ...

    async def meter(self, evse: EvseSim, event_type: str, trigger: str) -> None:
        """Report `evse`'s power, energy and voltage; `event_type`: "Started" or "Updated"."""


class SimulatedStation:
    """The station's state (kept across reconnects unless it reboots) and its connection loop."""

    def __init__(self, options: StationOptions, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.store = ProfileStore()
        self.evses = {i: EvseSim(i) for i in range(1, options.evses + 1)}
        self.booted = False
        self.boots = 0
        # every SetChargingProfile received (in the 2.0.1 shape, with its evse_id), for tests
        self.set_requests: list[dict[str, Any]] = []
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
        """What the EV on `evse_id` draws now: its limit, 0 below 6 A, the maximum when limits are ignored.

        A discharge setpoint is followed by a bidirectional EV (up to its maximum), by no other.
        """
        options = self.options
        if self.evses[evse_id].transaction_id is None:
            return 0.0
        if options.ignore_limits:
            return options.ev_max_w
        value = self.limit_w(evse_id)
        if value < 0:
            return -min(-value, options.ev_max_discharge_w) if options.v2x else 0.0
        limit = min(value, options.ev_max_w)
        return 0.0 if limit < 6.0 * self.watts_per_amp else limit

    def readings(self, evse: EvseSim) -> list[tuple[str, str, float]]:
        """(measurand, unit, value) of what `evse`'s meter reports (a bidirectional one: export too)."""
        imported = [
            ("Power.Active.Import", "W", max(0.0, evse.w)),
            ("Energy.Active.Import.Register", "Wh", round(evse.energy_wh, 1)),
        ]
        exported = [
            ("Power.Active.Export", "W", max(0.0, -evse.w)),
            ("Energy.Active.Export.Register", "Wh", round(evse.export_wh, 1)),
        ]
        return [*imported, *(exported if self.options.v2x else ()), ("Voltage", "V", self.options.voltage_v)]

    def take_profile(self, evse_id: int, body: dict[str, Any], replace: bool) -> str:
        """Record and install a SetChargingProfile (2.0.1 shape); the reason it is refused, "" if taken.

        `replace`: 1.6, where a profile at the same EVSE, purpose and stack level gives way to the new one
        (2.0.1 rejects the newcomer as DuplicateProfile).
        """
        self.set_requests.append({"evse_id": evse_id, **body})
        self.set_times.append(self.clock())
        profile = Profile(evse_id, body)
        reason = self._refusal(profile, check_conflict=not replace)
        if reason or self.options.ignore_profiles:
            return reason
        self.store.clear(profile_id=int(body["id"]))
        if replace:
            self.store.clear(purpose=profile.key[1], stack_level=profile.key[2], evse_id=evse_id)
        self.store.install(profile)
        self.notify()
        return ""

    def _refusal(self, profile: Profile, check_conflict: bool) -> str:
        """The reason the station rejects `profile`, "" where it takes it."""
        options, body, evse_id = self.options, profile.body, profile.evse_id
        schedule = profile.schedule
        station_max = body["charging_profile_purpose"] == STATION_MAX
        modes = {p.get("operation_mode", "ChargingOnly") for p in schedule["charging_schedule_period"]}
        setpoints = CENTRAL_SETPOINT in modes
        reasons = (
            (options.reject_profiles, options.reject_profiles),
            (station_max and options.refuse_station_max, "LoadBalancerDisabled"),
            (station_max and evse_id != 0, "InvalidEvse"),
            # 2.1 Table 95: the station maximum is ChargingOnly; a station without V2X takes no setpoint
            (setpoints and (station_max or not options.v2x), "UnsupportedOperationMode"),
            (bool(modes - {"ChargingOnly", CENTRAL_SETPOINT}), "UnsupportedOperationMode"),
            (int(body["stack_level"]) > options.stack_levels, "InvalidStackLevel"),
            (schedule["charging_rate_unit"] not in options.rate_units.split(","), "UnsupportedRateUnit"),
            (len(schedule["charging_schedule_period"]) > options.periods, "TooManyPeriods"),
            (check_conflict and self.store.conflict(profile), "DuplicateProfile"),
        )
        return next((reason for refused, reason in reasons if refused), "")

    def clear_profiles(self, *criteria: Any) -> str:
        """ClearChargingProfile by the store's criteria (id, purpose, stack level, EVSE): its status."""
        found = self.store.clear(*criteria)
        self.notify()
        return "Accepted" if found else "Unknown"

    def composite(self, evse_id: int, duration: int, unit: str | None) -> dict[str, Any]:
        """The composite schedule of `evse_id` from now (whole seconds) in `unit` (None: the first it has)."""
        unit = unit or self.options.rate_units.split(",")[0]
        now = math.floor(self.clock())
        evse = self.evses.get(evse_id)
        tx_start = evse.tx_start if evse is not None else None
        periods: list[dict[str, Any]] = []
        t = float(now)
        while t < now + duration:
            w = self.limit_w(evse_id, t) if evse is not None else self.options.ev_max_w
            value = round(w / self.watts_per_amp, 1) if unit == "A" else round(w, 1)
            # a discharge is a setpoint (2.1); a limit is what a charging EV may draw
            shape = {"operation_mode": CENTRAL_SETPOINT, "setpoint": value} if value < 0 else {"limit": value}
            if not periods or {k: v for k, v in periods[-1].items() if k != "start_period"} != shape:
                periods.append({"start_period": int(t - now), **shape})
            t = self.store.next_change(t, tx_start)
        return {
            "duration": duration,
            "schedule_start": iso(now),
            "charging_rate_unit": unit,
            "charging_schedule_period": periods,
        }

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
                    subprotocols=[Subprotocol(f"ocpp{self.options.version}")],
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
        self.store.online(self.clock())
        link: StationSide = SIDES[self.options.version](self, connection)
        receiver = asyncio.create_task(link.start())
        behaviour = asyncio.create_task(self._behave(link, receiver))
        try:
            # A closed connection ends the session at once, not when a pending CALL times out.
            await asyncio.wait({receiver, behaviour}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            receiver.cancel()
            behaviour.cancel()
            # gather, not a suppressed await: a cancellation of this task meanwhile must go on
            await asyncio.gather(receiver, behaviour, return_exceptions=True)
            self.connection = None
            self.store.offline(self.clock())
            self.notify()

    async def _behave(self, link: StationSide, receiver: asyncio.Task[None]) -> None:
        options = self.options
        if not self.booted:
            await link.boot()
            self.booted = True
            self.boots += 1
        for evse in self.evses.values():
            await link.status(evse)
            if evse.transaction_id is None:
                evse.tx_start = evse.last_sample = self.clock()
                evse.transaction_id = await link.open_transaction(evse)
                evse.w = self.power_w(evse.evse_id)
                await self._report(link, evse, "Started", "CablePluggedIn")
        self.notify()
        while not receiver.done():
            self._wake.clear()  # before evaluating: a profile arriving meanwhile wakes the next round
            now = self.clock()
            for evse in self.evses.values():
                w = self.power_w(evse.evse_id)
                wh = evse.w * (now - evse.last_sample) / 3600.0
                if wh >= 0:
                    evse.energy_wh += wh
                else:
                    evse.export_wh -= wh
                evse.last_sample, evse.w = now, w
                if evse.reported_w != w:
                    await self._report(link, evse, "Updated", "ChargingRateChanged")
                elif now - evse.last_reported >= options.meter_interval_s:
                    await self._report(link, evse, "Updated", "MeterValuePeriodic")
            self._pulse()
            tx_start = min((e.tx_start for e in self.evses.values() if e.tx_start is not None), default=None)
            deadline = min(self.store.next_change(now, tx_start), now + options.meter_interval_s)
            # a boundary is evaluated on its own second, not before it
            await wait_set(self._wake, max(0.0, deadline - self.clock()) + 0.001)

    async def _report(self, link: StationSide, evse: EvseSim, event_type: str, trigger: str) -> None:
        now = self.clock()
        await link.meter(evse, event_type, trigger)
        evse.seq_no += 1
        evse.reported_w = evse.w
        evse.last_reported = now
        self.meter_reports.append((now, evse.evse_id, evse.w))


class Station201(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """The station's side of one connection in 2.0.1."""

    def __init__(self, station: SimulatedStation, connection: ClientConnection) -> None:
        super().__init__(station.options.station_id, connection, response_timeout=10, logger=_QUIET)
        self.station = station

    async def boot(self) -> None:
        """BootNotification, reason PowerUp."""
        await self.call(
            self._call.BootNotification(
                charging_station={"model": "relevent-sim", "vendor_name": "relevent"}, reason="PowerUp"
            ),
            suppress=False,
        )

    async def status(self, evse: EvseSim) -> None:
        """StatusNotification: the connector is Occupied (an EV is always plugged in)."""
        await self.call(
            self._call.StatusNotification(
                timestamp=iso(self.station.clock()),
                connector_status="Occupied",
                evse_id=evse.evse_id,
                connector_id=1,
            ),
            suppress=False,
        )

    async def open_transaction(self, evse: EvseSim) -> str:  # noqa: ARG002  # the protocol's signature
        """A fresh id: 2.0.1 stations name their transactions (TransactionEvent Started tells the CSMS)."""
        return uuid.uuid4().hex[:16]

    async def meter(self, evse: EvseSim, event_type: str, trigger: str) -> None:
        """TransactionEvent with the meter values and the charging state."""
        now = self.station.clock()
        samples = [
            {"value": value, "measurand": measurand} for measurand, _, value in self.station.readings(evse)
        ]
        await self.call(
            self._call.TransactionEvent(
                event_type=event_type,
                timestamp=iso(now),
                trigger_reason=trigger,
                seq_no=evse.seq_no,
                transaction_info={
                    "transaction_id": evse.transaction_id,
                    "charging_state": "SuspendedEVSE" if evse.w == 0.0 else "Charging",
                },
                evse={"id": evse.evse_id, "connector_id": 1},
                meter_value=[{"timestamp": iso(now), "sampled_value": samples}],
                number_of_phases_used=self.station.options.phases,
            ),
            suppress=False,
        )

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        """The SmartChargingCtrlr variables of its capabilities."""
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
        return self._call_result.GetVariables(get_variable_result=results)

    @on("SetChargingProfile")
    def on_set_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any) -> Any:
        """Take the profile, or reject it with the reason."""
        reason = self.station.take_profile(evse_id, charging_profile, replace=False)
        answer = self._call_result.SetChargingProfile
        if reason:
            return answer(status="Rejected", status_info={"reason_code": reason})
        return answer(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        """Remove the profiles by id or by criteria."""
        criteria = charging_profile_criteria or {}
        status = self.station.clear_profiles(
            charging_profile_id,
            criteria.get("charging_profile_purpose"),
            criteria.get("stack_level"),
            criteria.get("evse_id"),
        )
        return self._call_result.ClearChargingProfile(status=status)

    @on("GetCompositeSchedule")
    def on_composite(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        """The composite schedule of an EVSE (0: the station)."""
        schedule = {"evse_id": evse_id, **self.station.composite(evse_id, duration, charging_rate_unit)}
        return self._call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)


class Station21(Station201):
    """The station's side of one connection in 2.1: 2.0.1's messages on 2.1's schemas, and V2X needs."""

    _call = v21.call
    _call_result = v21.call_result
    _ocpp_version = "2.1"

    async def meter(self, evse: EvseSim, event_type: str, trigger: str) -> None:
        """TransactionEvent; once a bidirectional EV's transaction started, its charging needs."""
        await super().meter(evse, event_type, trigger)
        if event_type == "Started" and self.station.options.v2x:
            await self.charging_needs(evse)

    async def charging_needs(self, evse: EvseSim) -> None:
        """NotifyEVChargingNeeds as an ISO 15118-20 AC BPT session in dynamic mode reports it."""
        options = self.station.options
        await self.call(
            self._call.NotifyEVChargingNeeds(
                evse_id=evse.evse_id,
                charging_needs={
                    "requested_energy_transfer": "AC_BPT",
                    "available_energy_transfer": ["AC_three_phase", "AC_BPT"],
                    "control_mode": "DynamicControl",
                    "mobility_needs_mode": "EVCC",
                    "departure_time": iso(self.station.clock() + 8 * 3600),
                    "v2x_charging_parameters": {
                        "min_charge_power": 6.0 * self.station.watts_per_amp,
                        "max_charge_power": options.ev_max_w,
                        "min_discharge_power": 0.0,
                        "max_discharge_power": options.ev_max_discharge_w,
                        "ev_target_energy_request": 20000.0,
                        "ev_min_energy_request": -10000.0,
                        "ev_max_energy_request": 40000.0,
                    },
                },
            ),
            suppress=False,
        )


SIDES: dict[str, Callable[[SimulatedStation, ClientConnection], StationSide]] = {
    "2.1": Station21,
    "2.0.1": Station201,
    "1.6": Station16,
}


def main(argv: list[str] | None = None) -> None:
    """Run one simulated station against a CSMS until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="ws://host:port/path/<station id>")
    parser.add_argument("--ocpp-version", default="2.0.1", choices=VERSIONS)
    parser.add_argument("--v2x", action="store_true", help="2.1: bidirectional EVs (ISO 15118-20 BPT)")
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
        version=args.ocpp_version,
        v2x=args.v2x,
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
