"""The simulated station's composite schedule: which of its charging profiles limits an EVSE, and how much.

Within one purpose the highest active stack level wins (an EVSE's own profile over evse 0's at the same
level); across purposes the lowest limit wins, a transaction's TxProfile replacing TxDefaultProfile.
OCPP 2.1: a CentralSetpoint period's value is its setpoint (negative: discharge, held to its
dischargeLimit), which the station maximum does not cap (2.1 allows that purpose ChargingOnly limits);
a profile with `maxOfflineDuration` stops applying that long after the station lost its CSMS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATION_MAX = "ChargingStationMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX_PROFILE = "TxProfile"
DAY_S = 86400.0
WEEK_S = 7 * DAY_S


def iso(ts: float) -> str:
    """An OCPP timestamp, whole seconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    """An OCPP timestamp as seconds since the epoch."""
    if text is None:
        return None
    return datetime.fromisoformat(text).timestamp()


def period_value(period: dict[str, Any]) -> float:
    """A period's value in its unit: the limit, or in CentralSetpoint the setpoint within its limits."""
    if period.get("operation_mode", "ChargingOnly") != "CentralSetpoint":
        return float(period["limit"])
    setpoint = float(period["setpoint"])
    low, high = period.get("discharge_limit"), period.get("limit")
    setpoint = setpoint if low is None else max(setpoint, float(low))
    return setpoint if high is None else min(setpoint, float(high))


@dataclass(frozen=True)
class Profile:
    """One installed profile (2.0.1 fields, snake_case) on `evse_id`."""

    evse_id: int
    body: dict[str, Any]

    @property
    def key(self) -> tuple[int, str, int]:
        """EVSE, purpose and stack level: where at most one profile may be."""
        return self.evse_id, self.body["charging_profile_purpose"], int(self.body["stack_level"])

    @property
    def schedule(self) -> dict[str, Any]:
        """Its (first) charging schedule."""
        first: dict[str, Any] = self.body["charging_schedule"][0]
        return first

    def start(self, t: float, tx_start: float | None) -> float | None:
        """When the schedule running at `t` started (None: not running)."""
        kind = self.body["charging_profile_kind"]
        anchor = parse_time(self.schedule.get("start_schedule"))
        if kind == "Relative" or anchor is None:
            return tx_start
        if kind == "Recurring":
            cycle = WEEK_S if self.body.get("recurrency_kind") == "Weekly" else DAY_S
            return anchor + math.floor((t - anchor) / cycle) * cycle
        return anchor

    def limit_at(self, t: float, tx_start: float | None, watts_per_amp: float) -> float | None:
        """The limit in W at `t`, None where the profile is not active."""
        valid_from = parse_time(self.body.get("valid_from"))
        valid_to = parse_time(self.body.get("valid_to"))
        if (valid_from is not None and t < valid_from) or (valid_to is not None and t >= valid_to):
            return None
        start = self.start(t, tx_start)
        if start is None or t < start:
            return None
        duration = self.schedule.get("duration")
        if duration is not None and t >= start + float(duration):
            return None
        periods = [p for p in self.schedule["charging_schedule_period"] if start + p["start_period"] <= t]
        if not periods:
            return None
        value = period_value(periods[-1])
        return value * watts_per_amp if self.schedule["charging_rate_unit"] == "A" else value

    def offline_end(self, offline_since: float | None) -> float:
        """When the profile stops applying for a station offline since `offline_since` (inf: never)."""
        most = self.body.get("max_offline_duration")
        return math.inf if offline_since is None or most is None else offline_since + float(most)

    def boundaries(self, tx_start: float | None, after: float) -> list[float]:
        """Instants after `after` where this profile's limit may change."""
        start = self.start(after, tx_start)
        if start is None:
            return []
        times = [start + p["start_period"] for p in self.schedule["charging_schedule_period"]]
        if self.schedule.get("duration") is not None:
            times.append(start + float(self.schedule["duration"]))
        edges = (parse_time(self.body.get(key)) for key in ("valid_from", "valid_to"))
        times.extend(edge for edge in edges if edge is not None)
        return [t for t in times if t > after]


class ProfileStore:
    """The profiles a station holds, and the limit they put on each EVSE."""

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.offline_since: float | None = None  # when the station lost its CSMS (None: connected)

    def offline(self, now: float) -> None:
        """The connection to the CSMS is gone: profiles with a `maxOfflineDuration` start to run out."""
        self.offline_since = now

    def online(self, now: float) -> None:
        """Connected again: a profile that ran out and is `invalidAfterOfflineDuration` is gone for good."""
        for pid, p in list(self.profiles.items()):
            if p.body.get("invalid_after_offline_duration") and p.offline_end(self.offline_since) <= now:
                del self.profiles[pid]
        self.offline_since = None

    def conflict(self, profile: Profile) -> bool:
        """Another id at the same EVSE, purpose and stack level (2.0.1 K01.FR.06 rejects it)."""
        return any(p.key == profile.key and pid != profile.body["id"] for pid, p in self.profiles.items())

    def install(self, profile: Profile) -> None:
        """Hold `profile` (replacing the one with its id)."""
        self.profiles[int(profile.body["id"])] = profile

    def clear(
        self,
        profile_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        evse_id: int | None = None,
    ) -> bool:
        """Remove the matching profiles; whether any matched."""
        doomed = [
            pid
            for pid, p in self.profiles.items()
            if (profile_id is None or pid == profile_id)
            and (purpose is None or p.key[1] == purpose)
            and (stack_level is None or p.key[2] == stack_level)
            and (evse_id is None or p.key[0] == evse_id)
        ]
        for pid in doomed:
            del self.profiles[pid]
        return bool(doomed)

    def _purpose(
        self, purpose: str, evse_id: int, t: float, tx_start: float | None, watts_per_amp: float
    ) -> float | None:
        best: tuple[int, int, float] | None = None
        for p in self.profiles.values():
            if p.key[1] != purpose or p.evse_id not in (0, evse_id) or t >= p.offline_end(self.offline_since):
                continue
            limit = p.limit_at(t, tx_start, watts_per_amp)
            if limit is not None:
                rank = (p.key[2], int(p.evse_id == evse_id), limit)
                best = rank if best is None or rank[:2] > best[:2] else best
        return None if best is None else best[2]

    def limit_w(
        self, evse_id: int, t: float, tx_start: float | None, watts_per_amp: float, hardware_w: float
    ) -> float:
        """The composite value in W on `evse_id` at `t`.

        A limit (the hardware's where nothing limits), or a discharge setpoint (negative).
        """
        station = self._purpose(STATION_MAX, 0, t, tx_start, watts_per_amp)
        tx = self._purpose(TX_PROFILE, evse_id, t, tx_start, watts_per_amp)
        if tx is None:
            tx = self._purpose(TX_DEFAULT, evse_id, t, tx_start, watts_per_amp)
        if tx is not None and tx < 0:
            return tx
        return min(v for v in (station, tx, hardware_w) if v is not None)

    def next_change(self, after: float, tx_start: float | None) -> float:
        """The first instant after `after` where some profile's limit may change (inf: none)."""
        ends = (p.offline_end(self.offline_since) for p in self.profiles.values())
        return min(
            [
                *(t for p in self.profiles.values() for t in p.boundaries(tx_start, after)),
                *(end for end in ends if end > after),
            ],
            default=math.inf,
        )
