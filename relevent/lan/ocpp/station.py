"""What the gateway knows of one charging station, kept across its reconnects."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from relevent.lan.driver import DeviceIntent, DevicePlan
from relevent.lan.ocpp.profiles import Capabilities, ProfileSpec
from relevent.lan.ocpp.units import Electrical


@dataclass
class Evse:
    """One EVSE: its connector status, the running transaction and the latest power it measured."""

    status: str = "Unknown"
    transaction_id: str | None = None
    w: float | None = None


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
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def evse(self, evse_id: int) -> Evse:
        """The EVSE, created on first mention."""
        return self.evses.setdefault(evse_id, Evse())

    @property
    def w(self) -> float:
        """The station's power: the sum over its EVSEs."""
        return sum(evse.w or 0.0 for evse in self.evses.values())

    def forget_installed(self) -> None:
        """After a boot the station may hold anything: assert every profile again."""
        self.installed.clear()
        self.caps = None
        self.wake.set()
