"""The simulated station's side of an OCPP 1.6J connection (the state and the charging loop are shared).

1.6 differs from 2.0.1 in names (connectors, ChargePointMaxProfile, one schedule per profile), in the
capabilities (GetConfiguration keys), in transactions (the CSMS assigns an integer id), in meter values
(strings with a unit), in the charging state (StatusNotification) and in answers (a status, no reason).
Profiles are kept in the 2.0.1 shape, so one ProfileStore evaluates both.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result
from websockets.asyncio.client import ClientConnection

from relevent.demo.ocpp_composite import STATION_MAX, iso
from relevent.lan.ocpp.routing import on

if TYPE_CHECKING:
    from relevent.demo.ocpp_station import EvseSim, SimulatedStation

_QUIET = logging.getLogger("relevent.demo.ocpp_station.wire")
STATION_MAX_16 = "ChargePointMaxProfile"
RATE_UNIT_NAMES = {"A": "Current", "W": "Power"}


def decimals_to_floats(value: Any) -> Any:
    """`value` with every `Decimal` in it a float (the library parses 1.6 SetChargingProfile with Decimal)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: decimals_to_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decimals_to_floats(item) for item in value]
    return value


def purpose_201(purpose: str) -> str:
    """A 1.6 charging profile purpose under its 2.0.1 name."""
    return STATION_MAX if purpose == STATION_MAX_16 else purpose


def profile_201(profile: dict[str, Any]) -> dict[str, Any]:
    """A 1.6 csChargingProfiles in the 2.0.1 shape the ProfileStore keeps: an id, a list of schedules."""
    body = decimals_to_floats(profile)
    profile_id = body.pop("charging_profile_id")
    schedule = body.pop("charging_schedule")
    body["charging_profile_purpose"] = purpose_201(body["charging_profile_purpose"])
    return {"id": profile_id, **body, "charging_schedule": [schedule]}


class Station16(ChargePoint):  # type: ignore[misc]  # the library is untyped
    """The station's side of one connection in 1.6J: connector N is EVSE N, connector 0 the station."""

    def __init__(self, station: SimulatedStation, connection: ClientConnection) -> None:
        super().__init__(station.options.station_id, connection, response_timeout=10, logger=_QUIET)
        self.station = station
        self.statuses: dict[int, str] = {}  # the last status sent per connector on this connection

    async def boot(self) -> None:
        """BootNotification."""
        await self.call(
            call.BootNotification(charge_point_vendor="relevent", charge_point_model="relevent-sim"),
            suppress=False,
        )

    def _state(self, evse: EvseSim) -> str:
        if evse.transaction_id is None:
            return "Preparing"
        return "SuspendedEVSE" if evse.w == 0.0 else "Charging"

    async def status(self, evse: EvseSim) -> None:
        """StatusNotification: Preparing before the transaction, then Charging or SuspendedEVSE (paused)."""
        state = self._state(evse)
        await self.call(
            call.StatusNotification(
                connector_id=evse.evse_id,
                error_code="NoError",
                status=state,
                timestamp=iso(self.station.clock()),
            ),
            suppress=False,
        )
        self.statuses[evse.evse_id] = state

    async def open_transaction(self, evse: EvseSim) -> str:
        """StartTransaction; the CSMS's integer id (as text, like a 2.0.1 id)."""
        answer = await self.call(
            call.StartTransaction(
                connector_id=evse.evse_id,
                id_tag="relevent",
                meter_start=int(evse.energy_wh),
                timestamp=iso(self.station.clock()),
            ),
            suppress=False,
        )
        return str(answer.transaction_id)

    async def meter(self, evse: EvseSim, event_type: str, trigger: str) -> None:  # noqa: ARG002
        """MeterValues of the transaction, after a StatusNotification where charging stopped or resumed.

        1.6 has no transaction events: `event_type` and `trigger` are 2.0.1's.
        """
        if self.statuses.get(evse.evse_id) != self._state(evse):
            await self.status(evse)
        now = self.station.clock()
        samples = [
            {"value": str(float(value)), "measurand": measurand, "unit": unit}
            for measurand, unit, value in self.station.readings(evse)
        ]
        await self.call(
            call.MeterValues(
                connector_id=evse.evse_id,
                transaction_id=int(evse.transaction_id or 0),
                meter_value=[{"timestamp": iso(now), "sampled_value": samples}],
            ),
            suppress=False,
        )

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> result.GetConfiguration:
        """The smart charging keys asked for (all where none are); the rest unknown."""
        options = self.station.options
        known = {
            "ChargingScheduleAllowedChargingRateUnit": ",".join(
                RATE_UNIT_NAMES[unit] for unit in options.rate_units.split(",")
            ),
            "ChargeProfileMaxStackLevel": str(options.stack_levels),
            "ChargingScheduleMaxPeriods": str(options.periods),
            "MaxChargingProfilesInstalled": "16",
        }
        asked = known if key is None else key  # no keys: all of them
        return result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known],
        )

    @on("SetChargingProfile")
    def on_set_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> result.SetChargingProfile:
        """Take the profile (replacing one at its place), or Rejected: 1.6 gives no reason."""
        reason = self.station.take_profile(connector_id, profile_201(cs_charging_profiles), replace=True)
        return result.SetChargingProfile(status="Rejected" if reason else "Accepted")

    @on("ClearChargingProfile")
    def on_clear_profile(
        self,
        id: int | None = None,  # noqa: A002  # the message's field
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> result.ClearChargingProfile:
        """Remove the profiles by id or by criteria."""
        purpose = None if charging_profile_purpose is None else purpose_201(charging_profile_purpose)
        status = self.station.clear_profiles(id, purpose, stack_level, connector_id)
        return result.ClearChargingProfile(status=status)

    @on("GetCompositeSchedule")
    def on_composite(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> result.GetCompositeSchedule:
        """The composite schedule of a connector (0: the station)."""
        schedule = self.station.composite(connector_id, duration, charging_rate_unit)
        start = schedule.pop("schedule_start")
        return result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=start,
            charging_schedule={**schedule, "start_schedule": start},
        )
