"""OCPP 1.6J as the CSMS: the station's messages answered, the gateway's commands sent.

1.6 differs from 2.0.1 in names (connector 0 is the whole station, ChargePointMaxProfile), in the
capabilities (GetConfiguration keys), in transactions (the CSMS assigns an integer id) and in meter
values (strings with a unit). The library hands some payloads over as `Decimal`: `float()` them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result

from relevent.lan.ocpp.link import Composite, StationAnswer
from relevent.lan.ocpp.profiles import Capabilities, ProfileSpec, Purpose
from relevent.lan.ocpp.readings import iso
from relevent.lan.ocpp.routing import on
from relevent.lan.ocpp.session import CsmsSession
from relevent.lan.ocpp.units import RateUnit
from relevent.lan.ocpp.v201 import profile_payload as profile_payload_201

log = structlog.get_logger(__name__)

PURPOSES = {Purpose.STATION_MAX: "ChargePointMaxProfile", Purpose.TX_DEFAULT: "TxDefaultProfile"}
UNITS: dict[str, RateUnit] = {"Current": "A", "Power": "W"}
RATE_UNITS, STACK_LEVEL, PERIODS = (
    "ChargingScheduleAllowedChargingRateUnit", "ChargeProfileMaxStackLevel", "ChargingScheduleMaxPeriods",
)  # fmt: skip
ACCEPTED = {"status": "Accepted"}  # an idTagInfo: a local controller lets every EV charge


def profile_payload(spec: ProfileSpec) -> dict[str, Any]:
    """`spec` as a 1.6 csChargingProfiles: the 2.0.1 profile under 1.6 names, one schedule without an id."""
    profile = profile_payload_201(spec)
    schedule = profile.pop("charging_schedule")[0]
    del schedule["id"]
    profile["charging_profile_id"] = profile.pop("id")
    profile["charging_profile_purpose"] = PURPOSES[spec.slot.purpose]
    profile["charging_schedule"] = schedule
    return profile


def value_of(sample: Mapping[str, Any]) -> float:
    """A 1.6 sampled value in base units: a string, in k-units where its unit says so (kW, kWh)."""
    return float(sample["value"]) * (1000.0 if str(sample.get("unit", "")).startswith("k") else 1.0)


class Csms16(CsmsSession, ChargePoint):  # type: ignore[misc]  # the library is untyped
    """One station's connection in 1.6J."""

    ocpp_version = "1.6"

    @on("BootNotification")
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> result.BootNotification:
        """Accept the station, give it the time and heartbeat interval; its profiles are asserted again."""
        self.station.boot = {"vendor_name": charge_point_vendor, "model": charge_point_model}
        log.info("ocpp_boot", station=self.id, model=charge_point_model)
        self.events.booted()
        return result.BootNotification(
            current_time=iso(self.clock()), interval=self.heartbeat_s, status="Accepted"
        )

    @on("StatusNotification")
    def on_status(self, connector_id: int, status: str, **_: Any) -> result.StatusNotification:
        """A connector's status (connector 0's is the whole station's: not an EVSE)."""
        if connector_id > 0:
            self.station.evse(connector_id).status = status
        return result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_: Any) -> result.Authorize:
        """Every tag is accepted: billing, where there is any, is the operator backend's."""
        return result.Authorize(id_tag_info=ACCEPTED)

    @on("StartTransaction")
    def on_start(self, connector_id: int, timestamp: str, **_: Any) -> result.StartTransaction:
        """A transaction starts on `connector_id`; the CSMS names it."""
        transaction_id = self.station.next_transaction_id(self.clock())
        self.station.evse(connector_id).transaction_id = str(transaction_id)
        log.info("ocpp_transaction_started", station=self.id, connector=connector_id, at=timestamp)
        return result.StartTransaction(transaction_id=transaction_id, id_tag_info=ACCEPTED)

    @on("StopTransaction")
    def on_stop(
        self, transaction_id: int, transaction_data: list[dict[str, Any]] | None = None, **_: Any
    ) -> result.StopTransaction:
        """The transaction ends, with its last meter values."""
        connector_id = self.station.evse_of(str(transaction_id))
        self.station.end_transaction(connector_id)
        self.measured(connector_id, transaction_data or (), None, value_of)
        return result.StopTransaction(id_tag_info=ACCEPTED)

    @on("MeterValues")
    def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **_: Any
    ) -> result.MeterValues:
        """Meter values of a connector, in a transaction or not."""
        if connector_id > 0:
            self.measured(connector_id, meter_value, None, value_of)
        return result.MeterValues()

    def observe_result(self, action: str, request: dict[str, Any], answer: dict[str, Any]) -> None:
        """The operator names a transaction: the gateway's name for it gives way."""
        if action == "StartTransaction" and "transactionId" in answer:
            self.station.evse(int(request["connectorId"])).transaction_id = str(answer["transactionId"])

    async def capabilities(self) -> Capabilities:
        """The smart charging keys of GetConfiguration."""
        request = call.GetConfiguration(key=[RATE_UNITS, STACK_LEVEL, PERIODS])
        response = await self.call(request, suppress=False)
        values = {item["key"]: item.get("value") for item in response.configuration_key or ()}
        default = Capabilities()
        named = (name.strip() for name in str(values.get(RATE_UNITS) or "").split(","))
        units = frozenset(UNITS[name] for name in named if name in UNITS)
        return Capabilities(
            rate_units=units or default.rate_units,
            max_stack_level=int(values.get(STACK_LEVEL) or default.max_stack_level),
            periods=int(values.get(PERIODS) or default.periods),
        )

    async def set_profile(self, spec: ProfileSpec) -> StationAnswer:
        """SetChargingProfile on connector 0."""
        request = call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile_payload(spec))
        return _answer((await self.call(request, suppress=False)).status)

    async def clear_profile(self, profile_id: int) -> StationAnswer:
        """ClearChargingProfile by id."""
        return _answer((await self.call(call.ClearChargingProfile(id=profile_id), suppress=False)).status)

    async def composite(self, evse_id: int, unit: RateUnit, duration_s: int) -> Composite:
        """GetCompositeSchedule of connector `evse_id` in `unit`; the station may answer in the other."""
        response = await self.call(
            call.GetCompositeSchedule(connector_id=evse_id, duration=duration_s, charging_rate_unit=unit),
            suppress=False,
        )
        schedule = response.charging_schedule
        if response.status != "Accepted" or not schedule or not schedule.get("charging_schedule_period"):
            return Composite(None, unit)
        first = min(schedule["charging_schedule_period"], key=lambda p: p["start_period"])
        return Composite(float(first["limit"]), schedule.get("charging_rate_unit", unit))


def _answer(status: str) -> StationAnswer:
    """1.6 answers carry no reason: the status is it."""
    return StationAnswer(status == "Accepted", "" if status == "Accepted" else status)
