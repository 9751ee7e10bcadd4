"""The monitored objects' values, read from the scheduler (None while unknown: sent as invalid)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from relevent.refs import full_ref
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.slots import Slots
from relevent.scheduler.spec import ModelSpec
from relevent.wan.iec104.config import Iec104Point


class DeviceReadings(Protocol):
    """What the device layer knows of a device: its measured power, whether its driver reaches it."""

    def measured_w(self, device_id: str) -> float | None:
        """The latest measured active power in W while current; None: none, or stale."""
        ...

    def reachable(self, device_id: str) -> bool | None:
        """Whether the device's driver reaches it; None: not known yet."""
        ...


DEVICE_SHOWS = {"measured", "reachable"}


class Monitor:
    """What each monitored point shows: a controller's output, or the actor's intent on it."""

    def __init__(  # noqa: PLR0913 - the scheduler's and the device layer's readings
        self,
        points: Sequence[Iec104Point],
        slots: Slots | None,
        model: ModelSpec,
        actor_slots: Sequence[str],
        *,
        devices: DeviceReadings | None,
        device_ids: Sequence[str],
    ) -> None:
        self._slots = slots
        self._devices = devices
        self._ied = model.ied_name
        controllers = {c.ref: c for c in model.controllers}
        self._controller_of = {slot: c.ref for c in model.controllers for slot in c.schedule_refs}
        self.points = tuple(point for point in points if not point.command)
        self._mine: dict[str, tuple[str, ...]] = {}  # controller -> the actor's slots it references
        for point in self.points:
            if point.show in DEVICE_SHOWS:
                if point.target not in device_ids:
                    raise ValueError(f"IOA {point.ioa}: {point.target!r} is no [[devices]] id")
                continue
            controller = controllers.get(full_ref(point.target, self._ied))
            if controller is None:
                raise ValueError(f"IOA {point.ioa}: {point.target!r} is no controller of the model")
            self._mine[controller.ref] = tuple(s for s in actor_slots if s in controller.schedule_refs)

    def in_force(self, slots: Sequence[str]) -> bool:
        """Whether one of `slots` runs and sets its controller's output (a placed intent took effect)."""
        if self._slots is None:
            return False
        for slot in slots:
            controller = self._controller_of.get(slot)
            output = self._slots.output(controller) if controller is not None else None
            if output is not None and output.source == slot and self._slots.state(slot) is SchdSt.RUNNING:
                return True
        return False

    def value(self, point: Iec104Point) -> float | bool | None:
        """The point's value now; None while unknown (or nothing is attached to read it from)."""
        if point.show in DEVICE_SHOWS:
            return self._device_value(point)
        if self._slots is None:
            return None
        controller = full_ref(point.target, self._ied)
        output = self._slots.output(controller)
        if output is None:
            return None
        if point.show == "output":
            value = output.value
            return None if value is None else (bool(value) if point.type == "M_SP_NA_1" else float(value))
        mine = self._mine[controller]
        running = any(self._slots.state(slot) is SchdSt.RUNNING for slot in mine)
        if point.show == "running":
            return running
        return running and output.source not in mine

    def reachable(self, device_id: str) -> bool | None:
        """Whether the device's driver reaches it (None: not known, or no device layer attached)."""
        return None if self._devices is None else self._devices.reachable(device_id)

    def _device_value(self, point: Iec104Point) -> float | bool | None:
        if self._devices is None:
            return None
        if point.show == "measured":
            return self._devices.measured_w(point.target)
        return self.reachable(point.target)
