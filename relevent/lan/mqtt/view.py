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
    online_at: float | None = None
    healthy: bool = True
    fallback: bool | None = None
    fallback_at: float | None = None
    command: Command | None = None
    command_sent: float | None = None
    ack: dict[str, Any] | None = None
    measurement: Measurement | None = None
    measurement_at: float | None = None

    def as_json(self, now: float, validity_s: float, link_lost: float | None) -> dict[str, Any]:
        """A JSON-ready copy, with each datum's age (`age_s`) and those older than `validity_s` (`stale`).

        `online` and `fallback` come from retained messages that the device (or its last will) renews on any
        change: they are current while the broker link is up and age from `link_lost` (None: up) on.
        """
        renewed = now if link_lost is None else link_lost
        ages = {
            "online": _age(now, self.online_at, renewed),
            "fallback": _age(now, self.fallback_at, renewed),
            "command": _age(now, self.command_sent),
            "ack": _age(now, None if self.ack is None else self.ack["at"]),
            "measurement": _age(now, self.measurement_at),
        }
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
            "age_s": ages,
            "stale": [name for name, age in ages.items() if age is not None and age > validity_s],
        }


def _age(now: float, received: float | None, renewed: float | None = None) -> float | None:
    """Seconds since a datum was received, or last known current (`renewed`); None: never received."""
    if received is None:
        return None
    return max(0.0, now - max(received, renewed or received))
