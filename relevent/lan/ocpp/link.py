"""The seam between the steering of a station and its OCPP version's messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from relevent.lan.ocpp.profiles import Capabilities, ProfileSpec
from relevent.lan.ocpp.units import RateUnit
from relevent.scheduler.values import Timestamp


@dataclass(frozen=True)
class StationAnswer:
    """A station's answer to a command: accepted or not, and its reason when it gave one."""

    accepted: bool
    reason: str = ""


@dataclass(frozen=True)
class Composite:
    """What a station's composite schedule puts on an EVSE now, in its unit (None: none).

    `setpoint` (OCPP 2.1, the station's sign): what the EV is to follow, negative for a discharge.
    """

    limit: float | None
    unit: RateUnit
    setpoint: float | None = None


class StationLink(Protocol):
    """Commands to one connected station; each raises `OCPPError` or `TimeoutError` when unanswered."""

    async def capabilities(self) -> Capabilities:
        """What the station takes (rate units, stack levels, periods)."""
        ...

    async def set_profile(self, spec: ProfileSpec) -> StationAnswer:
        """Install `spec` on evse 0."""
        ...

    async def clear_profile(self, profile_id: int) -> StationAnswer:
        """Remove the profile `profile_id`."""
        ...

    async def composite(self, evse_id: int, unit: RateUnit, duration_s: int) -> Composite:
        """The station's composite schedule for `evse_id`, its first period."""
        ...


class LinkEvents(Protocol):
    """What a station's messages tell the steering."""

    def booted(self) -> None:
        """The station (re)booted: it may hold no profile of ours."""
        ...

    def measured(
        self, evse_id: int, ts: Timestamp, w: float | None, phases: int | None, voltage_v: float | None
    ) -> None:
        """A meter value of an EVSE (any part may be missing)."""
        ...
