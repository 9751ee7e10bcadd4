"""What the gateway knows of one charging station, kept across its reconnects."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from relevent.lan.driver import DeviceIntent, DevicePlan
from relevent.lan.ocpp.profiles import PROFILE_IDS, Capabilities, ProfileSpec, placement
from relevent.lan.ocpp.units import Electrical

V2X_VERSION = "2.1"  # the first OCPP with discharge (operationMode CentralSetpoint)


@dataclass
class Evse:
    """One EVSE: its connector status, the running transaction and the latest power it measured.

    `discharge_w`: the most its EV may discharge (ISO 15118-20 BPT, from NotifyEVChargingNeeds); None
    for an EV that only charges.
    """

    status: str = "Unknown"
    transaction_id: str | None = None
    w: float | None = None
    discharge_w: float | None = None


@dataclass
class Station:
    """One station: its intent and plan, what it holds and reported; `wake` is set on every change."""

    station_id: str
    electrical: Electrical
    intent: DeviceIntent | None = None
    plan: DevicePlan | None = None
    caps: Capabilities | None = None  # None until read after a boot
    installed: dict[int, ProfileSpec] = field(default_factory=dict)
    evses: dict[int, Evse] = field(default_factory=dict)
    boot: dict[str, object] = field(default_factory=dict)
    connected: bool = False
    ocpp_version: str | None = None  # of the current (or last) connection
    last_transaction_id: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def evse(self, evse_id: int) -> Evse:
        """The EVSE, created on first mention."""
        return self.evses.setdefault(evse_id, Evse())

    def evse_of(self, transaction_id: str) -> int:
        """The EVSE running `transaction_id` (1 where unknown: one from before a restart)."""
        found = [i for i, e in self.evses.items() if e.transaction_id == transaction_id]
        return found[0] if found else 1

    def end_transaction(self, evse_id: int) -> None:
        """The EV on `evse_id` is done: its transaction and what it could do are gone."""
        evse = self.evse(evse_id)
        evse.transaction_id = None
        if evse.discharge_w is not None:
            evse.discharge_w = None
            self.wake.set()  # a discharge it was steered to must end

    def discharge_refusal(self) -> str:
        """Why the station cannot be told to discharge now ("" where it can)."""
        if self.ocpp_version != V2X_VERSION:
            return (
                f"OCPP {self.ocpp_version or 'unknown'} carries no discharge: a positive w_set (injection) "
                f"needs OCPP {V2X_VERSION} and a bidirectional (V2X) EV"
            )
        plugged = [evse for evse in self.evses.values() if evse.transaction_id is not None]
        if not plugged:
            return "no EV in a transaction to discharge"
        if len(plugged) > 1:  # a station-wide setpoint is followed by each EV: several would export it each
            return f"{len(plugged)} EVs in transactions: a discharge is steered for one EV only"
        if not plugged[0].discharge_w:
            return (
                "the EV reported no bidirectional power transfer (NotifyEVChargingNeeds with a BPT "
                "energy transfer and a maxDischargePower)"
            )
        return ""

    def next_transaction_id(self, now: float) -> int:
        """A transaction id for a 1.6 station, which the CSMS assigns: rising across gateway restarts too."""
        self.last_transaction_id = max(self.last_transaction_id + 1, int(now))
        return self.last_transaction_id

    @property
    def w(self) -> float:
        """The station's power: the sum over its EVSEs."""
        return sum(evse.w or 0.0 for evse in self.evses.values())

    def stack_levels(self) -> frozenset[int]:
        """The stack levels of the gateway's profiles behind an operator's backend (reserved for them)."""
        slots = placement(self.caps or Capabilities(), proxied=True).values()
        return frozenset(slot.stack_level for slot in slots)

    def profile_ids(self) -> frozenset[int]:
        """The ids of the gateway's profiles (reserved for them)."""
        return frozenset(PROFILE_IDS.values())

    def forget_installed(self) -> None:
        """After a boot the station may hold anything: assert every profile again."""
        self.installed.clear()
        self.caps = None
        self.wake.set()
