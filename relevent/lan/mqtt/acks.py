"""Matching `ctl/ack` to the commands sent, and each device's health.

A device is healthy while it answers its commands; a command unanswered within the timeout, or rejected,
makes it unhealthy until the next command it accepts (or clamps).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

# Bounds the memory of a device that never answers: older pending commands are forgotten (not counted).
MAX_PENDING_PER_DEVICE = 64


@dataclass(frozen=True)
class HealthChange:
    """A device turned healthy or unhealthy."""

    device_id: str
    healthy: bool


class AckTracker:
    """Pending commands per device with their deadlines (monotonic seconds)."""

    def __init__(self, timeout_s: float, clock: Callable[[], float]) -> None:
        self._timeout_s = timeout_s
        self._clock = clock
        self._pending: dict[str, OrderedDict[UUID, float]] = {}
        self._healthy: dict[str, bool] = {}

    def sent(self, device_id: str, command_id: UUID) -> None:
        """Start waiting for the ack of a published command."""
        pending = self._pending.setdefault(device_id, OrderedDict())
        pending[command_id] = self._clock() + self._timeout_s
        while len(pending) > MAX_PENDING_PER_DEVICE:
            pending.popitem(last=False)

    def acked(self, device_id: str, command_id: UUID, result: str) -> tuple[bool, HealthChange | None]:
        """Match an ack: (whether it answers a pending command, the health change it causes)."""
        pending = self._pending.get(device_id)
        if pending is None or pending.pop(command_id, None) is None:
            return False, None
        return True, self._set_health(device_id, healthy=result != "rejected")

    def addressee(self, command_id: UUID) -> str | None:
        """The device a still-pending command was sent to, or None."""
        return next((device for device, pending in self._pending.items() if command_id in pending), None)

    def expire(self) -> list[tuple[str, UUID, HealthChange | None]]:
        """Drop every command past its deadline: (device, command id, the health change it causes)."""
        now = self._clock()
        missed = []
        for device_id, pending in self._pending.items():
            for command_id, deadline in list(pending.items()):
                if deadline > now:
                    break  # insertion order is deadline order
                del pending[command_id]
                missed.append((device_id, command_id, self._set_health(device_id, healthy=False)))
        return missed

    def healthy(self, device_id: str) -> bool:
        """Whether the device answers; a device never commanded counts as healthy."""
        return self._healthy.get(device_id, True)

    def _set_health(self, device_id: str, *, healthy: bool) -> HealthChange | None:
        if self.healthy(device_id) == healthy:
            return None
        self._healthy[device_id] = healthy
        return HealthChange(device_id, healthy)
