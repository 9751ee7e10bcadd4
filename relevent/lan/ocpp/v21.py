"""OCPP 2.1 as the CSMS: 2.0.1's session on 2.1's schemas, plus discharge and offline reversion.

Every message the gateway uses keeps its 2.0.1 fields in 2.1 (some gain optional ones), so the 2.0.1
session serves 2.1 with the library's 2.1 messages. What 2.1 adds here:
- NotifyEVChargingNeeds (read in every 2.x session): an ISO 15118-20 EV in a bidirectional session (a
  BPT energy transfer and `v2xChargingParameters.maxDischargePower` > 0) may be told to discharge;
- a discharge period: `operationMode` CentralSetpoint with `setpoint` and `dischargeLimit` both the
  (negative, OCPP's sign) discharge, so the EV follows it and never exports more;
- `maxOfflineDuration` + `invalidAfterOfflineDuration` on the steered profiles: a station that lost the
  gateway falls back on the reserve after `[ocpp] max_offline_s`, and never takes them up again.
"""

from __future__ import annotations

from typing import Any

from ocpp.v21 import call, call_result

from relevent.lan.ocpp.profiles import ProfileSpec
from relevent.lan.ocpp.station import V2X_VERSION
from relevent.lan.ocpp.v201 import Csms201
from relevent.lan.ocpp.v201 import profile_payload as profile_payload_201


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


class Csms21(Csms201):
    """One station's connection in 2.1 (the library's 2.1 messages and schemas, see `Csms201`)."""

    ocpp_version = V2X_VERSION
    _call = call
    _call_result = call_result
    _ocpp_version = V2X_VERSION

    def profile_payload(self, spec: ProfileSpec) -> dict[str, Any]:
        """`spec` as a 2.1 ChargingProfileType."""
        return profile_payload(spec)
