"""The charging profiles a station should hold for its intent and plan, as the spec's layers.

Stack 0 holds the reserve (the value the station keeps when the gateway is gone, no end), stack 1 the
steered limits over the horizon (they end, so a dead gateway leaves the station on the reserve), the top
stack the pause (`on = false`, 0 W). `w_max_lim` caps the whole station (ChargingStationMaxProfile),
`-w_set` is a ceiling for the EVs (TxDefaultProfile; a charging EV consumes: its `w_set` is negative). A
positive `w_set` (injection) on a station that may discharge (OCPP 2.1, a bidirectional EV) is a
discharge setpoint instead: a negative value, in OCPP's sign, on the same TxDefaultProfile layer, so the
pause above it stops it. A station with too few stack levels, or one that refuses
ChargingStationMaxProfile, gets layers folded together (`fold`) instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from relevent.lan.driver import DeviceFields, DeviceIntent, DevicePlan
from relevent.lan.ocpp.config import OcppSection
from relevent.lan.ocpp.units import Electrical, RateUnit, StationLimit, to_station
from relevent.scheduler.values import Timestamp


class Purpose(StrEnum):
    """The profile purposes the gateway sets (never ChargingStationExternalConstraints: K01.FR.22)."""

    STATION_MAX = "ChargingStationMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"


@dataclass(frozen=True)
class Capabilities:
    """What a station takes, read from it before the first profile."""

    rate_units: frozenset[RateUnit] = frozenset({"A", "W"})
    max_stack_level: int = 8
    periods: int = 24
    station_max: bool = True  # False once the station refused a ChargingStationMaxProfile

    @property
    def unit(self) -> RateUnit:
        """The unit profiles are sent in: W where taken (exact), else A."""
        return "W" if "W" in self.rate_units else "A"


class Layer(StrEnum):
    """The gateway's layers, in the order their profile ids are numbered."""

    RESERVE = "reserve"
    MAX = "w_max_lim"
    SET = "w_set"
    OFF = "off"


PROFILE_IDS = {layer: index + 1 for index, layer in enumerate(Layer)}


def layer_value(layer: Layer, fields: DeviceFields, *, discharge: bool = False) -> float | None:
    """A control layer's value in W for `fields` (None where the controllers leave it free).

    In OCPP's sign: a charging ceiling, or with `discharge` allowed a discharge setpoint (negative). The
    discharge is held to `w_max_lim` here: a ChargingStationMaxProfile limits charging only (OCPP 2.1
    allows it no other operation mode than ChargingOnly).
    """
    if layer is Layer.MAX:
        return fields.w_max_lim
    if layer is Layer.SET:
        if fields.w_set is None:
            return None
        if discharge and fields.w_set > 0:
            return -min(fields.w_set, fields.w_max_lim if fields.w_max_lim is not None else math.inf)
        return max(-fields.w_set, 0.0)  # a discharge the station cannot do is refused by the steering
    return 0.0 if fields.on is False else None


def fold(values: Sequence[float]) -> float | None:
    """Layers' values as one period's: the lowest ceiling, and a discharge held to every ceiling.

    A ceiling caps a discharge's size too (`w_max_lim` is a magnitude; a pause, 0 W, stops it).
    """
    if not values:
        return None
    ceiling = min((v for v in values if v >= 0), default=math.inf)
    discharge = min((-v for v in values if v < 0), default=None)
    if discharge is None:
        return ceiling
    held = min(discharge, ceiling)
    return -held if held > 0 else 0.0


def reserve_w(fallback: DeviceFields, safe_limit_w: float) -> float:
    """The reserve: the reserve schedules' values (the lowest of them), else the configured safe limit.

    It never discharges: a station left alone must not empty an EV into the grid.
    """
    if fallback.on is False:
        return 0.0
    charging = None if fallback.w_set is None else -fallback.w_set
    values = [v for v in (fallback.w_max_lim, charging) if v is not None and v >= 0]
    return min(values) if values else safe_limit_w


@dataclass(frozen=True)
class Slot:
    """Where a group of layers lives on the station: its purpose and stack level (evse 0)."""

    purpose: Purpose
    stack_level: int


def placement(caps: Capabilities, *, proxied: bool = False) -> dict[Layer, Slot]:
    """Each layer's slot; layers sharing one are folded into one profile.

    `proxied` (an operator's backend steers the station too): every layer on the station maximum, which
    the backend may not set, so the backend's transaction profiles can only lower the gateway's limits.
    """
    top = caps.max_stack_level
    station_max = caps.station_max and top >= 1
    tx = Purpose.STATION_MAX if proxied and station_max else Purpose.TX_DEFAULT
    steer = Slot(tx, min(1, top))
    return {
        Layer.RESERVE: Slot(Purpose.STATION_MAX if station_max else Purpose.TX_DEFAULT, 0),
        Layer.MAX: Slot(Purpose.STATION_MAX, 1) if station_max else steer,
        Layer.SET: steer,
        Layer.OFF: Slot(tx, top) if top >= 2 else steer,
    }


@dataclass(frozen=True)
class ProfileSpec:
    """One profile to install: Absolute from `start` (whole seconds), `periods` as (offset s, value).

    `duration` None: it never ends (the reserve, or a group ending on the reserve's value). Values are in
    OCPP's sign (negative: a discharge setpoint). `max_offline_s`: how long it outlives the gateway's
    connection where the version can say so (OCPP 2.1; None: the reserve, which must outlive it).
    """

    profile_id: int
    layers: tuple[Layer, ...]
    slot: Slot
    unit: RateUnit
    start: int
    periods: tuple[tuple[int, float], ...]
    duration: int | None
    limits: tuple[StationLimit, ...] = field(default=(), compare=False)
    max_offline_s: int | None = None

    @property
    def content(self) -> tuple[object, ...]:
        """What the station would do differently if it changed (the start aside for a constant profile)."""
        timed = len(self.periods) > 1 or self.duration is not None
        start = self.start if timed else None
        return (self.slot, self.unit, self.periods, self.duration, start, self.max_offline_s)

    @property
    def end(self) -> float:
        """When the profile stops applying (inf for none)."""
        return math.inf if self.duration is None else self.start + self.duration

    def limit_at(self, t: Timestamp) -> StationLimit | None:
        """The limit in force at `t`, None outside the profile."""
        if t < self.start or t >= self.end:
            return None
        current = None
        for (offset, _), limit in zip(self.periods, self.limits, strict=True):
            if self.start + offset <= t:
                current = limit
        return current


def timeline(
    intent: DeviceIntent | None,
    plan: DevicePlan | None,
    start: int,
    end: int,
) -> list[tuple[int, DeviceFields]]:
    """The fields from `start` to `end` at whole seconds: the intent now, then the plan's later steps."""
    now = intent.fields if intent is not None else DeviceFields()
    steps = [(start, now)]
    for t, fields in plan.steps if plan is not None else ():
        at = math.ceil(t)
        if at <= start:
            if intent is None:
                steps = [(start, fields)]
        elif at < end:
            steps.append((at, fields))
    return steps


@dataclass(frozen=True)
class StationView:
    """What profiles are built for: the station's capabilities and its electrical figures."""

    caps: Capabilities
    electrical: Electrical
    proxied: bool = False  # an operator's backend sets profiles too (see `placement`)
    discharge: bool = False  # a positive `w_set` becomes a discharge setpoint (OCPP 2.1, a V2X EV)


def build(
    intent: DeviceIntent | None,
    plan: DevicePlan | None,
    view: StationView,
    now: Timestamp,
    section: OcppSection,
) -> list[ProfileSpec]:
    """Every profile the station should hold now, one per occupied slot."""
    start = math.floor(now)
    builder = _Builder(view, section, start, timeline(intent, plan, start, start + section.horizon_s))
    fallback = intent.fallback if intent is not None else DeviceFields()
    reserve = reserve_w(fallback, section.safe_limit_w)
    slots = placement(view.caps, proxied=view.proxied)
    groups: dict[Slot, list[Layer]] = {}
    for layer, slot in slots.items():
        groups.setdefault(slot, []).append(layer)
    below = slots[Layer.RESERVE]
    lift = min(
        s.stack_level
        for layer, s in slots.items()
        if layer is not Layer.RESERVE and s.purpose is below.purpose
    )
    specs = []
    for slot, layers in groups.items():
        # Within a purpose the highest active stack level overrides the others: a slot carries the minimum
        # of every layer at or below it, so a pause on top does not lift the steering under it.
        covered = [
            layer
            for layer, other in slots.items()
            if layer is not Layer.RESERVE
            and other.purpose is slot.purpose
            and other.stack_level <= slot.stack_level
        ]
        if Layer.RESERVE in layers:
            specs.append(builder.profile(slot, layers, covered, tail=reserve))
        elif builder.steered(layers) or (slot.purpose is below.purpose and slot.stack_level == lift):
            # a live gateway lifts the reserve: a profile right above it, the maximum where free
            specs.append(builder.profile(slot, layers, covered, tail=None))
    return specs


@dataclass(frozen=True)
class _Builder:
    view: StationView
    section: OcppSection
    start: int
    steps: Sequence[tuple[int, DeviceFields]]

    def steered(self, layers: Sequence[Layer]) -> bool:
        """Whether a controller sets any of `layers` within the horizon."""
        return any(layer_value(layer, fields) is not None for layer in layers for _, fields in self.steps)

    def folded(self, layers: Sequence[Layer], fields: DeviceFields) -> float | None:
        """The layers' values as one (None: all free)."""
        values = (layer_value(layer, fields, discharge=self.view.discharge) for layer in layers)
        return fold([v for v in values if v is not None])

    def profile(
        self, slot: Slot, layers: Sequence[Layer], covered: Sequence[Layer], tail: float | None
    ) -> ProfileSpec:
        """One slot's profile: the `covered` layers' minimum per step, then the reserve (if in) for ever."""
        horizon = self.section.horizon_s
        watts: list[tuple[int, float]] = []
        if covered and (tail is None or self.steered(covered)):
            watts = [
                (t - self.start, self.section.max_w if (v := self.folded(covered, fields)) is None else v)
                for t, fields in self.steps
            ]
        duration: int | None = horizon
        room = self.view.caps.periods - (1 if tail is not None and watts else 0)
        merged = _merge(watts)
        if len(merged) > room:  # the rest goes out at the refresh, half way through what fits
            duration = merged[room][0]
            merged = merged[:room]
        if tail is not None:
            merged = [*merged, (duration or horizon, tail)] if merged else [(0, tail)]
            duration = None
        unit = self.view.caps.unit
        limits = tuple(to_station(w, unit, self.view.electrical) for _, w in merged)
        periods = tuple((offset, limit.value) for (offset, _), limit in zip(merged, limits, strict=True))
        max_offline_s = self.section.max_offline_s if tail is None else None
        layer_id = PROFILE_IDS[layers[0]]
        return ProfileSpec(
            layer_id, tuple(layers), slot, unit, self.start, periods, duration, limits, max_offline_s
        )


def _merge(watts: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Consecutive steps with the same value as one period."""
    merged: list[tuple[int, float]] = []
    for offset, w in watts:
        if not merged or merged[-1][1] != w:
            merged.append((offset, w))
    return merged
