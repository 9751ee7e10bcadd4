"""The bridge's own configuration, independent of how the gateway reads its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from relevent import __version__
from relevent.errors import ConfigError

MqttVersion = Literal["5", "3.1.1"]


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to connect; `tls` comes from the `mqtts://` scheme.

    `timeout_s` bounds every wait for the broker (CONNACK, SUBACK, PUBACK): a TLS 1.3 broker that refuses
    the client certificate after the handshake never sends a CONNACK.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    protocol: MqttVersion = "5"
    keepalive_s: int = 30
    timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 1.0

    @classmethod
    def from_url(cls, url: str, **options: object) -> BrokerConfig:
        """Build from `mqtt://host[:port]` or `mqtts://host[:port]` plus keyword options."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ConfigError(f"broker URL must be mqtt://host[:port] or mqtts://host[:port], got {url!r}")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            **options,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class DeviceConfig:
    """One `[[devices]]` entry: controller references (either form) per command field, clamp limits.

    `w_min`/`w_max` bound the device's exchange in W (positive = injection); `mmxu` names the measurement
    LN that mirrors the device's `meas`.
    """

    id: str
    device_class: str | None = None
    w_set: str | None = None
    w_max_lim: str | None = None
    on: str | None = None
    w_min: float | None = None
    w_max: float | None = None
    mmxu: str | None = None


@dataclass(frozen=True)
class MqttBridgeConfig:
    """Everything the bridge needs; the composition root maps `Settings` onto it."""

    gateway_id: str
    broker: BrokerConfig = BrokerConfig()
    root: str = "relevent/v1"
    heartbeat_s: float = 30.0
    validity_s: float | None = None
    ack_timeout_s: float = 5.0
    devices: tuple[DeviceConfig, ...] = ()
    plan_horizon_s: float = 24 * 3600.0
    plan_refresh_s: float = 60.0
    compat_fledge: bool = False
    compat_schedule_period_s: float = 5.0
    ems_request_topic: str | None = None
    ems_reply_topic: str | None = None
    ems_reply_prefix: str | None = None
    ems_request_rate: float = 1.0
    ems_request_burst: int = 5
    device_msg_rate: float = 50.0
    device_msg_burst: int = 200
    version: str = __version__

    @property
    def command_validity_s(self) -> float:
        """How long a command stays valid: `validity_s`, by default two heartbeats."""
        return self.validity_s if self.validity_s is not None else 2 * self.heartbeat_s

    @property
    def ems_reply(self) -> str | None:
        """The reply topic of EMS requests (`<request topic>/reply` unless configured)."""
        if self.ems_request_topic is None:
            return None
        return self.ems_reply_topic or f"{self.ems_request_topic}/reply"
