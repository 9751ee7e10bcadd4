"""OCPP 2.0.1 as the CSMS: the station's messages answered, the gateway's commands sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from ocpp.v201 import ChargePoint

from relevent.lan.ocpp.link import Composite, StationAnswer
from relevent.lan.ocpp.profiles import Capabilities, ProfileSpec
from relevent.lan.ocpp.readings import iso
from relevent.lan.ocpp.routing import on
from relevent.lan.ocpp.session import CsmsSession
from relevent.lan.ocpp.units import RateUnit

log = structlog.get_logger(__name__)

SMART_CHARGING = "SmartChargingCtrlr"
# ISO 15118-20 energy transfer services with bidirectional power transfer (OCPP 2.1 names them)
BIDIRECTIONAL = frozenset({"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"})


def profile_payload(spec: ProfileSpec) -> dict[str, Any]:
    """`spec` as a 2.0.1 ChargingProfileType (snake_case, as the library takes it)."""
    schedule: dict[str, Any] = {
        "id": spec.profile_id,
        "charging_rate_unit": spec.unit,
        "start_schedule": iso(spec.start),
        "charging_schedule_period": [
            {"start_period": offset, "limit": limit} for offset, limit in spec.periods
        ],
    }
    profile: dict[str, Any] = {
        "id": spec.profile_id,
        "stack_level": spec.slot.stack_level,
        "charging_profile_purpose": spec.slot.purpose.value,
        "charging_profile_kind": "Absolute",
        "charging_schedule": [schedule],
    }
    if spec.duration is not None:
        schedule["duration"] = spec.duration
        profile["valid_to"] = iso(spec.start + spec.duration)
    return profile


def discharge_w(charging_needs: Mapping[str, Any]) -> float | None:
    """The most the EV may discharge, from its charging needs (None: it only charges)."""
    if charging_needs.get("requested_energy_transfer") not in BIDIRECTIONAL:
        return None
    most = float((charging_needs.get("v2x_charging_parameters") or {}).get("max_discharge_power") or 0.0)
    return most if most > 0 else None


def value_of(sample: Mapping[str, Any]) -> float:
    """A 2.0.1 sampled value in base units: a number, scaled by its unit's multiplier."""
    return float(sample["value"]) * 10 ** float(sample.get("unit_of_measure", {}).get("multiplier", 0))


class Csms201(CsmsSession, ChargePoint):  # type: ignore[misc]  # the library is untyped
    """One station's connection in 2.0.1; the messages are the library's of `ocpp_version` (2.1 reuses it)."""

    ocpp_version = "2.0.1"

    @on("BootNotification")
    def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        """Accept the station, give it the time and heartbeat interval; its profiles are asserted again."""
        self.station.boot = {"reason": reason, **charging_station}
        log.info("ocpp_boot", station=self.id, reason=reason, model=charging_station.get("model"))
        self.events.booted()
        return self._call_result.BootNotification(
            current_time=iso(self.clock()), interval=self.heartbeat_s, status="Accepted"
        )

    @on("Authorize")
    def on_authorize(self, **_: Any) -> Any:
        """Every id token is accepted: billing, where there is any, is the operator backend's.

        2.1 (V2X authorization): no `allowedEnergyTransfer`, so the EV may use every mode it offers.
        """
        return self._call_result.Authorize(id_token_info={"status": "Accepted"})

    @on("StatusNotification")
    def on_status(self, evse_id: int, connector_status: str, **_: Any) -> Any:
        """A connector's status."""
        self.station.evse(evse_id).status = connector_status
        return self._call_result.StatusNotification()

    @on("TransactionEvent")
    def on_transaction(
        self,
        event_type: str,
        transaction_info: dict[str, Any],
        evse: dict[str, Any] | None = None,
        meter_value: list[dict[str, Any]] | None = None,
        number_of_phases_used: int | None = None,
        **_: Any,
    ) -> Any:
        """A transaction started, updated or ended, with its meter values."""
        evse_id = int(evse["id"]) if evse else self.station.evse_of(transaction_info["transaction_id"])
        state = self.station.evse(evse_id)
        if event_type == "Ended":
            self.station.end_transaction(evse_id)
        else:
            state.transaction_id = transaction_info["transaction_id"]
        if event_type == "Started":  # a new EV: the steering judges again (whether it may discharge)
            self.station.wake.set()
        self.measured(evse_id, meter_value or (), number_of_phases_used, value_of)
        return self._call_result.TransactionEvent()

    @on("NotifyEVChargingNeeds")
    def on_charging_needs(self, evse_id: int, charging_needs: dict[str, Any], **_: Any) -> Any:
        """What the EV on `evse_id` can do: whether it may discharge (2.1 only), and how much."""
        most = discharge_w(charging_needs)
        self.station.evse(evse_id).discharge_w = most
        log.info(
            "ocpp_charging_needs",
            station=self.id,
            evse=evse_id,
            transfer=charging_needs.get("requested_energy_transfer"),
            control_mode=charging_needs.get("control_mode"),
            discharge_w=most,
        )
        self.station.wake.set()  # a discharge may now be possible (or no longer)
        return self._call_result.NotifyEVChargingNeeds(status="Accepted")

    @on("MeterValues")
    def on_meter_values(self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any) -> Any:
        """Meter values outside a transaction."""
        self.measured(evse_id, meter_value, None, value_of)
        return self._call_result.MeterValues()

    async def capabilities(self) -> Capabilities:
        """RateUnit, ProfileStackLevel and PeriodsPerSchedule of the SmartChargingCtrlr."""
        names = ("RateUnit", "ProfileStackLevel", "PeriodsPerSchedule")
        request = self._call.GetVariables(
            get_variable_data=[
                {"component": {"name": SMART_CHARGING}, "variable": {"name": name}} for name in names
            ]
        )
        response = await self.call(request, suppress=False)
        values = {
            r["variable"]["name"]: r.get("attribute_value")
            for r in response.get_variable_result
            if r["attribute_status"] == "Accepted"
        }
        default = Capabilities()
        units = frozenset(u.strip() for u in str(values.get("RateUnit") or "A,W").split(",")) & {"A", "W"}
        return Capabilities(
            rate_units=units or default.rate_units,  # type: ignore[arg-type]  # narrowed by the & above
            max_stack_level=int(values.get("ProfileStackLevel") or default.max_stack_level),
            periods=int(values.get("PeriodsPerSchedule") or default.periods),
        )

    def profile_payload(self, spec: ProfileSpec) -> dict[str, Any]:
        """`spec` as this version's ChargingProfileType."""
        return profile_payload(spec)

    async def set_profile(self, spec: ProfileSpec) -> StationAnswer:
        """SetChargingProfile on evse 0."""
        request = self._call.SetChargingProfile(evse_id=0, charging_profile=self.profile_payload(spec))
        response = await self.call(request, suppress=False)
        return _answer(response.status, response.status_info)

    async def clear_profile(self, profile_id: int) -> StationAnswer:
        """ClearChargingProfile by id."""
        request = self._call.ClearChargingProfile(charging_profile_id=profile_id)
        response = await self.call(request, suppress=False)
        return _answer(response.status, response.status_info)

    async def composite(self, evse_id: int, unit: RateUnit, duration_s: int) -> Composite:
        """GetCompositeSchedule in `unit`; the station may answer in the other."""
        response = await self.call(
            self._call.GetCompositeSchedule(duration=duration_s, evse_id=evse_id, charging_rate_unit=unit),
            suppress=False,
        )
        schedule = response.schedule
        if response.status != "Accepted" or not schedule or not schedule["charging_schedule_period"]:
            return Composite(None, unit)
        first = min(schedule["charging_schedule_period"], key=lambda p: p["start_period"])
        limit, setpoint = (first.get(key) for key in ("limit", "setpoint"))  # 2.1 may give a setpoint only
        return Composite(
            None if limit is None else float(limit),
            schedule["charging_rate_unit"],
            None if setpoint is None else float(setpoint),
        )


def _answer(status: str, info: Mapping[str, Any] | None) -> StationAnswer:
    reason = ""
    if info:
        reason = " ".join(str(info[k]) for k in ("reason_code", "additional_info") if info.get(k))
    return StationAnswer(status == "Accepted", reason or ("" if status == "Accepted" else status))
