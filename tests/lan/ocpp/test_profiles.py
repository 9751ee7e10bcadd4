"""The profiles built for an intent and a plan: layers, periods, units, folding for limited stations."""

from __future__ import annotations

from relevent.lan.driver import DeviceFields, DeviceIntent, DevicePlan
from relevent.lan.ocpp.config import OcppSection
from relevent.lan.ocpp.profiles import (
    Capabilities,
    Layer,
    ProfileSpec,
    Purpose,
    Slot,
    StationView,
    build,
    placement,
)
from relevent.lan.ocpp.units import Electrical, to_station

NOW = 1_800_000_000.4
THREE_PHASE = Electrical(230.0, 3)
SECTION = OcppSection(safe_limit_w=4500.0, horizon_s=600)


def intent(fallback: DeviceFields | None = None, **fields: object) -> DeviceIntent:
    return DeviceIntent("cs-1", 1, NOW, NOW + 60, DeviceFields(**fields), fallback=fallback or DeviceFields())  # type: ignore[arg-type]


def by_layer(specs: list[ProfileSpec]) -> dict[Layer, ProfileSpec]:
    return {spec.layers[0]: spec for spec in specs}


def test_reserve_is_permanent_at_stack_0_and_the_steering_ends_with_the_horizon() -> None:
    specs = by_layer(
        build(intent(w_max_lim=7000.0), None, StationView(Capabilities(), THREE_PHASE), NOW, SECTION)
    )
    reserve = specs[Layer.RESERVE]
    assert reserve.slot == Slot(Purpose.STATION_MAX, 0)
    assert reserve.duration is None
    assert reserve.periods == ((0, 4500.0),)  # the configured safe limit: no reserve schedule value known
    steer = specs[Layer.MAX]
    assert steer.slot == Slot(Purpose.STATION_MAX, 1)
    assert (steer.start, steer.duration, steer.periods) == (1_800_000_000, 600, ((0, 7000.0),))
    assert Layer.SET not in specs
    assert Layer.OFF not in specs


def test_reserve_takes_the_reserve_schedules_value() -> None:
    specs = by_layer(
        build(
            intent(DeviceFields(w_max_lim=3000.0), w_max_lim=7000.0),
            None,
            StationView(Capabilities(), THREE_PHASE),
            NOW,
            SECTION,
        )
    )
    assert specs[Layer.RESERVE].periods == ((0, 3000.0),)
    off = by_layer(
        build(intent(DeviceFields(on=False)), None, StationView(Capabilities(), THREE_PHASE), NOW, SECTION)
    )
    assert off[Layer.RESERVE].periods == ((0, 0.0),)


def test_plan_steps_become_periods_and_the_pause_sits_on_the_top_stack() -> None:
    plan = DevicePlan(
        "cs-1",
        NOW,
        (
            (NOW - 5, DeviceFields(w_set=-11000.0)),
            (NOW + 10, DeviceFields(w_set=-5000.0, on=False)),
            (NOW + 20, DeviceFields(w_set=-9000.0)),
            (NOW + 10_000, DeviceFields(w_set=-1.0)),  # beyond the horizon
        ),
    )
    caps = Capabilities(max_stack_level=5)
    specs = by_layer(build(intent(w_set=-11000.0), plan, StationView(caps, THREE_PHASE), NOW, SECTION))
    # the profile starts on NOW's whole second; a step between seconds begins on the next one, never early
    assert specs[Layer.SET].periods == ((0, 11000.0), (11, 5000.0), (21, 9000.0))
    off = specs[Layer.OFF]
    assert off.slot == Slot(Purpose.TX_DEFAULT, 5)
    assert off.periods == ((0, 11000.0), (11, 0.0), (21, 9000.0))  # the steering under it, paused


def test_periods_beyond_the_station_limit_shorten_the_profile() -> None:
    plan = DevicePlan(
        "cs-1", NOW, tuple((NOW + 10 * i, DeviceFields(w_max_lim=1000.0 * (i + 5))) for i in range(6))
    )
    specs = by_layer(
        build(intent(w_max_lim=5000.0), plan, StationView(Capabilities(periods=4), THREE_PHASE), NOW, SECTION)
    )
    steer = specs[Layer.MAX]
    assert len(steer.periods) == 4
    assert steer.duration == 41  # ends where the first period left out begins


def test_a_only_station_gets_amperes_rounded_down_and_below_6_a_is_clamped() -> None:
    caps = Capabilities(rate_units=frozenset({"A"}))
    specs = by_layer(build(intent(w_max_lim=7000.0), None, StationView(caps, THREE_PHASE), NOW, SECTION))
    assert specs[Layer.MAX].unit == "A"
    assert specs[Layer.MAX].periods == ((0, 10.1),)  # 7000 / 690 = 10.14 A
    assert not specs[Layer.MAX].limits[0].clamped
    low = to_station(3000.0, "A", THREE_PHASE)
    assert (low.value, low.clamped) == (4.3, True)
    assert to_station(0.0, "W", THREE_PHASE).clamped is False  # off is off, not clamped


def test_stack_level_0_only_folds_everything_into_one_profile_ending_on_the_reserve() -> None:
    caps = Capabilities(max_stack_level=0, station_max=False)
    slots = set(placement(caps).values())
    assert slots == {Slot(Purpose.TX_DEFAULT, 0)}
    (spec,) = build(
        intent(w_max_lim=7000.0, w_set=-5000.0, on=True), None, StationView(caps, THREE_PHASE), NOW, SECTION
    )
    assert spec.duration is None
    assert spec.periods == ((0, 5000.0), (600, 4500.0))  # the steering over the horizon, then the reserve


def test_refused_station_max_moves_the_cap_into_tx_default() -> None:
    caps = Capabilities(station_max=False)
    specs = by_layer(
        build(intent(w_max_lim=7000.0, w_set=-9000.0), None, StationView(caps, THREE_PHASE), NOW, SECTION)
    )
    assert specs[Layer.RESERVE].slot == Slot(Purpose.TX_DEFAULT, 0)
    assert specs[Layer.MAX].layers == (Layer.MAX, Layer.SET)
    assert specs[Layer.MAX].periods == ((0, 7000.0),)
