"""What the bridge last saw of each device, for the operator's status page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DeviceView:
    """The latest command sent to a device and the latest answers it gave; times are epoch seconds."""

    id: str
    device_class: str | None
    online: bool | None = None
    healthy: bool = True
    fallback: bool | None = None
    command: dict[str, Any] | None = None
    command_sent: float | None = None
    ack: dict[str, Any] | None = None
    measurement: dict[str, Any] | None = field(default=None)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "id": self.id,
            "class": self.device_class,
            "online": self.online,
            "healthy": self.healthy,
            "fallback": self.fallback,
            "command": self.command,
            "command_sent": self.command_sent,
            "ack": self.ack,
            "measurement": self.measurement,
        }
