"""The bridge's view of the configuration: `[mqtt]` and `[[devices]]` as they are, the broker's address."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

from relevent import __version__
from relevent.config import MqttSection
from relevent.errors import ConfigError


@dataclass(frozen=True)
class BrokerConfig:
    """Where to connect (`host`, `port`, `tls` from the `mqtts://` scheme) and how (`mqtt`).

    `mqtt.timeout_s` bounds every wait for the broker (CONNACK, SUBACK, PUBACK): a TLS 1.3 broker that
    refuses the client certificate after the handshake never sends a CONNACK.
    """

    host: str
    port: int
    tls: bool
    mqtt: MqttSection = field(repr=False)

    @classmethod
    def from_section(cls, mqtt: MqttSection) -> BrokerConfig:
        """The broker of `[mqtt]`: its `url`, `mqtt://host[:port]` or `mqtts://host[:port]`."""
        url = mqtt.url
        refused = ConfigError(f"broker URL must be mqtt://host[:port] or mqtts://host[:port], got {url!r}")
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:  # not a number, or out of range
            raise refused from None
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise refused
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, port or (8883 if tls else 1883), tls, mqtt)

    @property
    def password(self) -> str | None:
        """The broker password in clear, for the client library only."""
        return self.mqtt.password.get_secret_value() if self.mqtt.password else None


@dataclass(frozen=True)
class MqttBridgeConfig:
    """Everything the bridge needs: the gateway's id and `[mqtt]`."""

    gateway_id: str
    mqtt: MqttSection = field(default_factory=MqttSection)
    version: str = __version__

    @cached_property
    def broker(self) -> BrokerConfig:
        """The broker to connect to."""
        return BrokerConfig.from_section(self.mqtt)
