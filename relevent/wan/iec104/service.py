"""The outstation as the composition root builds it: `[iec104]` checked against the model and the actor."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry

from relevent.errors import ConfigError
from relevent.refs import full_ref
from relevent.scheduler.engine import Engine
from relevent.scheduler.intents import Intents
from relevent.scheduler.slots import Slots
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.verdicts import ActorSlots
from relevent.wan.iec104.config import Iec104Section
from relevent.wan.iec104.monitor import DeviceReadings, Monitor
from relevent.wan.iec104.outstation import Outstation, Refusals


def check(
    section: Iec104Section, model: ModelSpec, shares: Mapping[str, ActorSlots], device_ids: Sequence[str]
) -> Monitor | None:
    """What `check-config` verifies: the actor has a share of the core, every target exists.

    Returns the monitor without a scheduler to read (None when `[iec104]` is off).
    """
    if not section.enabled:
        return None
    share = shares.get(section.actor)
    if share is None:
        raise ConfigError(f"[iec104] actor {section.actor!r} needs band and slots in its [[actors]] entry")
    controllers = {controller.ref for controller in model.controllers}
    for point in section.points:
        known = full_ref(point.target, model.ied_name) in controllers or point.target in device_ids
        if point.command and not known:
            raise ConfigError(f"[iec104] IOA {point.ioa}: {point.target!r} is no controller and no device")
        if point.refuse_when_unreachable and point.target not in device_ids:
            raise ConfigError(f"[iec104] IOA {point.ioa}: refuse_when_unreachable needs a [[devices]] id")
    try:
        return Monitor(section.points, None, model, share.slots, devices=None, device_ids=device_ids)
    except ValueError as exc:
        raise ConfigError(f"[iec104] {exc}") from None


def iec104_service(  # noqa: PLR0913 - the gateway's parts the adapter needs
    section: Iec104Section,
    engine: Engine,
    intents: Intents,
    shares: Mapping[str, ActorSlots],
    *,
    devices: DeviceReadings,
    device_ids: Sequence[str],
    registry: CollectorRegistry,
    clock: Callable[[], float],
    refused: Refusals,
) -> Outstation | None:
    """The outstation when `[iec104]` is enabled."""
    if check(section, engine.model, shares, device_ids) is None:
        return None
    slots = Slots(engine)
    mine = shares[section.actor].slots
    monitor = Monitor(section.points, slots, engine.model, mine, devices=devices, device_ids=device_ids)
    return Outstation(section, intents=intents, monitor=monitor, subscribe=slots.subscribe, registry=registry,
                      clock=clock, refused=refused)  # fmt: skip
