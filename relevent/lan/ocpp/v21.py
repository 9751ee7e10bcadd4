"""OCPP 2.1 as the CSMS: 2.0.1's session on 2.1's schemas, plus discharge and offline reversion.

Every message the gateway uses keeps its 2.0.1 fields in 2.1 (some gain optional ones), so the 2.0.1
session serves 2.1 with the library's 2.1 messages. What 2.1 adds here:
- NotifyEVChargingNeeds: an ISO 15118-20 EV in a bidirectional session (a BPT energy transfer and
  `v2xChargingParameters.maxDischargePower` > 0) may be told to discharge;
- a discharge period: `operationMode` CentralSetpoint with `setpoint` and `dischargeLimit` both the
  (negative, OCPP's sign) discharge, so the EV follows it and never exports more;
- `maxOfflineDuration` + `invalidAfterOfflineDuration` on the steered profiles: a station that lost the
  gateway falls back on the reserve after `[ocpp] max_offline_s`, and never takes them up again.
"""

from __future__ import annotations

from typing import Any

import structlog
from ocpp.v21 import call, call_result

from relevent.lan.ocpp.profiles import ProfileSpec
from relevent.lan.ocpp.routing import on
from relevent.lan.ocpp.station import V2X_VERSION
from relevent.lan.ocpp.v201 import Csms201
from relevent.lan.ocpp.v201 import profile_payload as profile_payload_201

log = structlog.get_logger(__name__)

# ISO 15118-20 energy transfer services with bidirectional power transfer
BIDIRECTIONAL = frozenset({"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"})


def profile_payload(spec: ProfileSpec) -> dict[str, Any]:
    """`spec` as a 2.1 ChargingProfileType: a negative value is a CentralSetpoint period."""
    profile = profile_payload_201(spec)
    for period in profile["charging_schedule"][0]["charging_schedule_period"]:
        if period["limit"] < 0:  # a limit is ChargingOnly's; CentralSetpoint takes a setpoint instead
            setpoint = period.pop("limit")
            period.update(operation_mode="CentralSetpoint", setpoint=setpoint, discharge_limit=setpoint)
    if spec.max_offline_s is not None:
        profile["max_offline_duration"] = spec.max_offline_s
        profile["invalid_after_offline_duration"] = True
    return profile


def discharge_w(charging_needs: dict[str, Any]) -> float | None:
    """The most the EV may discharge, from its charging needs (None: it only charges)."""
    if charging_needs.get("requested_energy_transfer") not in BIDIRECTIONAL:
        return None
    most = float((charging_needs.get("v2x_charging_parameters") or {}).get("max_discharge_power") or 0.0)
    return most if most > 0 else None


class Csms21(Csms201):
    """One station's connection in 2.1 (the library's 2.1 messages and schemas, see `Csms201`)."""

    ocpp_version = V2X_VERSION
    _call = call
    _call_result = call_result
    _ocpp_version = V2X_VERSION

    @on("NotifyEVChargingNeeds")
    def on_charging_needs(self, evse_id: int, charging_needs: dict[str, Any], **_: Any) -> Any:
        """What the EV on `evse_id` can do: whether it may discharge, and how much."""
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

    def profile_payload(self, spec: ProfileSpec) -> dict[str, Any]:
        """`spec` as a 2.1 ChargingProfileType."""
        return profile_payload(spec)
