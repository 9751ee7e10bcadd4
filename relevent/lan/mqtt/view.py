"""What the bridge last saw of each device, for the operator's status page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relevent.lan.mqtt.payloads import Command, Measurement


@dataclass
class DeviceView:
    """The latest command sent to a device and the latest answers it gave; times are epoch seconds.

    Payloads are kept as received or sent and rendered only when the page is read (not per message).
    """

    id: str
    device_class: str | None
    online: bool | None = None
    healthy: bool = True
    fallback: bool | None = None
    command: Command | None = None
    command_sent: float | None = None
    ack: dict[str, Any] | None = None
    measurement: Measurement | None = None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "id": self.id,
            "class": self.device_class,
            "online": self.online,
            "healthy": self.healthy,
            "fallback": self.fallback,
            "command": None if self.command is None else self.command.model_dump(mode="json"),
            "command_sent": self.command_sent,
            "ack": self.ack,
            "measurement": None if self.measurement is None else self.measurement.model_dump(
                mode="json", exclude_none=True
            ),
        }
