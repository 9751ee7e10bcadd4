"""The topic tree of the device contract: `<root>/<gateway_id>/...`."""

from __future__ import annotations

from enum import StrEnum


def within(topic: str, prefix: str) -> bool:
    """Whether `topic` is `prefix` or below it, level by level (`a/bc` is not within `a/b`)."""
    prefix = prefix.rstrip("/")
    return topic == prefix or topic.startswith(f"{prefix}/")


class Inbound(StrEnum):
    """Topic kinds the gateway consumes; the value is the leaf below `dev/<id>/`."""

    MEAS = "meas"
    STATE = "state"
    AVAIL = "avail"
    ACK = "ctl/ack"


class Topics:
    """Builds and parses the gateway's topics."""

    def __init__(self, root: str, gateway_id: str) -> None:
        self.base = f"{root.rstrip('/')}/{gateway_id}"
        self._dev_prefix = f"{self.base}/dev/"

    @property
    def published_trees(self) -> tuple[str, ...]:
        """The topic trees the gateway publishes to: the devices', its status, its controllers' states."""
        return self._dev_prefix.rstrip("/"), self.status, f"{self.base}/controller"

    @property
    def status(self) -> str:
        """The gateway's retained status (and last will)."""
        return f"{self.base}/status"

    def command(self, device_id: str) -> str:
        """`ctl/set` of one device."""
        return f"{self._dev_prefix}{device_id}/ctl/set"

    def ack(self, device_id: str) -> str:
        """`ctl/ack` of one device (the MQTT 5 response topic of its commands)."""
        return self.inbound(device_id, Inbound.ACK)

    def plan(self, device_id: str) -> str:
        """`ctl/plan` (retained) of one device."""
        return f"{self._dev_prefix}{device_id}/ctl/plan"

    def health(self, device_id: str) -> str:
        """The device's health (retained), for Home Assistant."""
        return f"{self._dev_prefix}{device_id}/health"

    def controller(self, ln_name: str) -> str:
        """A controller's state (retained), for Home Assistant."""
        return f"{self.base}/controller/{ln_name}"

    def inbound(self, device_id: str, kind: Inbound) -> str:
        """A topic a device publishes on (`meas`, `state`, `avail`, `ctl/ack`)."""
        return f"{self._dev_prefix}{device_id}/{kind}"

    def inbound_filters(self) -> list[str]:
        """One filter per inbound kind; never `dev/#`, which would echo the gateway's own publications."""
        return [f"{self._dev_prefix}+/{kind}" for kind in Inbound]

    def parse_inbound(self, topic: str) -> tuple[str, Inbound] | None:
        """Return (device id, kind) of an inbound device topic, or None."""
        if not topic.startswith(self._dev_prefix):
            return None
        device_id, sep, leaf = topic[len(self._dev_prefix) :].partition("/")
        if not sep or not device_id:
            return None
        try:
            return device_id, Inbound(leaf)
        except ValueError:
            return None
