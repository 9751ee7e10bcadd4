"""Gateway configuration: a TOML file, `RELEVENT_<SECTION>__<KEY>` environment overrides, CLI overrides.

Precedence, highest first: command line, environment, TOML file, systemd credentials
(`$CREDENTIALS_DIRECTORY/<section>__<key>`, e.g. `mqtt__password`), defaults. Unknown keys are errors, so a
typo never silently falls back to a default. TOML values must have their key's type (`port = "102"` is an
error); environment values are text by nature and are converted. Secrets are `SecretStr`: never in logs or
error messages.
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from relevent.config_errors import Origins, describe
from relevent.errors import ConfigError
from relevent.lan.ocpp.config import OcppSection
from relevent.lan.relay.config import RelayOptions
from relevent.lan.sunspec.config import SunSpecOptions
from relevent.scl.generate import DEFAULT_MODEL
from relevent.tls_files import check_tls_files
from relevent.wan.hedera.config import HederaSection
from relevent.wan.iec104.config import Iec104Section

_TOML: ContextVar[dict[str, Any] | None] = ContextVar("relevent_toml", default=None)  # the parsed file


def _one_source(inline: SecretStr | None, file: Path | None, names: str) -> None:
    if inline is not None and file is not None:
        raise ValueError(f"set {names}, not both")


def _secret(inline: SecretStr | None, file: Path | None, what: str) -> SecretStr | None:
    """The inline secret, or the one kept in `file` (e.g. a systemd credential), trailing newline dropped."""
    if file is None:
        return inline
    try:
        return SecretStr(file.read_text(encoding="utf-8").rstrip("\r\n"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read it: {exc}") from None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def default(section: type[BaseModel], key: str) -> Any:
    """The default of `key` in `section`: for an adapter's own view of a section, never restated there."""
    return section.model_fields[key].default


class GatewaySection(_Section):
    """`[gateway]`: who this gateway is."""

    id: str = Field(default="gw1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class SclSection(_Section):
    """`[scl]`: the model the gateway serves."""

    path: Path = DEFAULT_MODEL


ReportsMode = Literal["auto", "scl"]  # the SCL's report blocks, or a scheduling set per LD
ServeMode = Literal["auto", "thread", "loop"]


class MmsSection(_Section):
    """`[mms]`: the IEC 61850 MMS server towards SCADA."""

    host: str = "0.0.0.0"  # noqa: S104 - SCADA connects from the WAN side (loopback while anonymous)
    port: int = Field(default=102, ge=1, le=65535)
    reports: ReportsMode = "auto"
    # Who answers MMS requests: libiec61850's own thread, the event loop, or by the model's size (see
    # `relevent.wan.mms.server.serving_thread`).
    serve: ServeMode = "auto"
    tls: bool = False
    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    authentication: Literal["none", "password", "certificate"] = "none"
    # Without TLS and authentication anyone reaching the port controls every schedule: loopback only, unless.
    allow_anonymous: bool = False
    association_timeout_s: float = Field(default=10.0, gt=0, le=3600)  # then a connection is closed
    tls_handshake_timeout_s: float = Field(default=2.0, gt=0, le=60)  # then an unfinished handshake is closed
    max_connections: int = Field(default=5, ge=2, le=5)  # libiec61850 as shipped serves at most 5
    max_connections_per_peer: int = Field(default=2, ge=1, le=5)  # per client IP address
    max_connections_per_actor: int = Field(default=2, ge=1, le=5)
    reserved_connections: int = Field(default=1, ge=0, le=3)  # for [[actors]] with priority = true
    auth_failure_delay_s: float = Field(default=1.0, gt=0, le=3600)  # doubled per failure of a host's streak
    auth_failure_max_delay_s: float = Field(default=60.0, gt=0, le=86400)

    @model_validator(mode="after")
    def _transport_is_explicit(self) -> MmsSection:
        files = {"ca_file": self.ca_file, "cert_file": self.cert_file, "key_file": self.key_file}
        check_tls_files(tls=self.tls, required=files)
        if self.authentication == "certificate" and not self.tls:
            raise ValueError('authentication = "certificate" needs tls = true')
        if self.reserved_connections > (most := self.max_connections - 2):  # one stays free, one for others
            raise ValueError(f"reserved_connections must be at most max_connections - 2 = {most}")
        if self.auth_failure_max_delay_s < self.auth_failure_delay_s:
            raise ValueError("auth_failure_max_delay_s must be at least auth_failure_delay_s")
        return self


class MqttSection(_Section):
    """`[mqtt]`: the broker towards the local devices and the device contract's timing."""

    url: str = Field(default="mqtt://127.0.0.1:1883", pattern=r"^mqtts?://[^/\s]+(:\d+)?/?$")
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    timeout_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    # Caps the wait after a broker outage: devices must have a command within 2 s of the broker returning.
    reconnect_max_s: float = Field(default=1.0, gt=0)
    root: str = "relevent/v1"
    heartbeat_s: float = Field(default=30.0, gt=0)
    validity_s: float | None = Field(default=None, gt=0)
    ack_timeout_s: float = Field(default=5.0, gt=0)
    plan_horizon_s: float = Field(default=86400.0, gt=0)
    plan_refresh_s: float = Field(default=60.0, gt=0)
    compat_fledge: bool = False
    # Home Assistant MQTT discovery: controllers' outputs, active schedules and device health as entities.
    ha_discovery: bool = False
    ha_discovery_prefix: str = Field(default="homeassistant", min_length=1, pattern=r"^[^+#\x00]+$")
    compat_schedule_period_s: float = Field(default=5.0, gt=0)
    ems_request_topic: str | None = None
    ems_reply_topic: str | None = None
    ems_slot: str | None = None  # the FSCH that EMS requests are written into, e.g. "@Control/MaxPow_FSCH01"
    ems_priority: int = Field(default=60, ge=-(2**31), le=2**31 - 1)  # its SchdPrio (INT32)
    # An MQTT 5 response topic of a request is used only below this prefix; else the reply topic is.
    ems_reply_prefix: str | None = Field(default=None, min_length=1, pattern=r"^[^+#\x00]+$")
    # EMS requests beyond this rate are dropped unparsed: each one rewrites a whole schedule.
    ems_request_rate: float = Field(default=1.0, gt=0)
    ems_request_burst: int = Field(default=5, ge=1)
    # Per device (and for the EMS request topic): messages beyond this rate are dropped unparsed.
    device_msg_rate: float = Field(default=50.0, gt=0)
    device_msg_burst: int = Field(default=200, ge=1)

    @field_validator("password")
    @classmethod
    def _empty_password_is_none(cls, password: SecretStr | None) -> SecretStr | None:
        """An empty password is none: the systemd unit's default credential, for a broker without one."""
        return password if password is not None and password.get_secret_value() else None

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


class StorageSection(_Section):
    """`[storage]`: where schedules survive power loss."""

    state_dir: Path = Path("/var/lib/relevent-gw")


class AuditSection(_Section):
    """`[audit]`: the audit trail's key, the folding of repeated refusals, the retention."""

    # The key its chain is MAC'd with: the systemd credential `audit__key`, or key_file; neither: one is
    # generated into the state directory at the first start.
    key: SecretStr | None = None
    key_file: FilePath | None = None
    fold_window_s: float = Field(default=10.0, gt=0, le=3600)
    retention_days: float = Field(default=400.0, ge=0)  # 0 keeps every row

    @model_validator(mode="after")
    def _one_key_source(self) -> AuditSection:
        _one_source(self.key, self.key_file, "key or key_file")
        return self

    def secret(self) -> SecretStr | None:
        """The configured key, read from `key_file` when given there."""
        return _secret(self.key, self.key_file, "[audit] key_file")


class HttpSection(_Section):
    """`[http]`: health, readiness and metrics (loopback unless told otherwise)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8610, ge=0, le=65535)


class DeviceEntry(_Section):
    """`[[devices]]`: one local device, the controllers it follows and the protocol that reaches it."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    device_class: Literal["battery", "ev_charger", "heat_pump", "pv_inverter", "ems"] = Field(alias="class")
    # `ocpp`: the id is the charging station's identity, its options live in `[ocpp]`; `sunspec`: a
    # Modbus TCP inverter, its options in the entry's `sunspec` table; `modbus-relay`: a relay board, its
    # contact table in the entry's `relay` table.
    protocol: Literal["mqtt", "ocpp", "sunspec", "modbus-relay"] = "mqtt"
    sunspec: SunSpecOptions | None = None
    relay: RelayOptions | None = None
    w_set: str | None = None
    w_max_lim: str | None = None
    on: str | None = None
    w_min: float | None = None
    w_max: float | None = None
    mmxu: str | None = None

    @model_validator(mode="after")
    def _options_of_its_protocol(self) -> DeviceEntry:
        """A protocol that needs options has them; options of another protocol are a mistake."""
        if (self.protocol == "sunspec") != (self.sunspec is not None):
            raise ValueError(f'device {self.id!r}: a sunspec table goes with protocol = "sunspec" only')
        if (self.protocol == "modbus-relay") != (self.relay is not None):
            raise ValueError(f'device {self.id!r}: a relay table goes with protocol = "modbus-relay" only')
        bound = {name for name in ("w_set", "w_max_lim", "on") if getattr(self, name) is not None}
        if self.relay is not None and (missing := bound - self.relay.carries()):
            raise ValueError(f"device {self.id!r}: its relay table has no contacts for {sorted(missing)}")
        return self


Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
LockableParameter = Literal["SchdPrio", "StrTm", "SchdReuse", "NumEntr", "SchdIntv", "values"]


class ActorEntry(_Section):
    """`[[actors]]`: one remote actor and how it authenticates (an ACSE password, a TLS certificate)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    password: SecretStr | None = None
    password_file: FilePath | None = None  # e.g. a systemd credential: /run/credentials/<unit>/<name>
    certificate_sha256: str | None = Field(default=None, pattern=r"^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$")
    priority: bool = False  # [mms] reserved_connections are kept for such actors (e.g. the DSO's SCADA)
    # Its intents (IEC 104, OpenADR, ... adapters): their SchdPrio range and the schedules they are placed in.
    band: tuple[Int32, Int32] | None = None
    slots: tuple[str, ...] = ()  # in the order a chain fills them, e.g. ["@Control/MaxPow_FSCH03", ...]
    hold_s: float | None = Field(default=None, gt=0)  # "until changed"; default: the longest SchdIntv

    @model_validator(mode="after")
    def _consistent(self) -> ActorEntry:
        _one_source(self.password, self.password_file, "password or password_file")
        if self.band is not None and self.band[0] > self.band[1]:
            raise ValueError("band is [lowest, highest] SchdPrio")
        if (self.band is None) != (not self.slots):
            raise ValueError("band and slots go together: an actor's intents need both")
        return self

    def secret(self) -> SecretStr | None:
        """The password, read from `password_file` when given there (trailing newline dropped)."""
        return _secret(self.password, self.password_file, f"[[actors]] {self.name}: password_file")

    def fingerprint(self) -> bytes | None:
        """The SHA-256 certificate fingerprint as bytes (`openssl x509 -fingerprint -sha256` prints it)."""
        return bytes.fromhex(self.certificate_sha256.replace(":", "")) if self.certificate_sha256 else None


class PolicyEntry(_Section):
    """`[[policy]]`: the locks of one schedule (`schedule`), or the rights of one actor (`actor`)."""

    schedule: str | None = None
    locked: frozenset[LockableParameter] = frozenset()
    lock_enable: bool = False
    actor: str | None = None
    schedules: tuple[str, ...] = ()  # references, globs allowed: "@Control/MaxPow_FSCH0[1-3]"
    controllers: tuple[str, ...] = ()
    max_priority: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)

    @model_validator(mode="after")
    def _locks_or_rights(self) -> PolicyEntry:
        if (self.schedule is None) == (self.actor is None):
            raise ValueError("an entry names either a schedule (locks) or an actor (rights)")
        rights = self.schedules or self.controllers or self.max_priority is not None
        if self.schedule is not None and rights:
            raise ValueError("schedules, controllers and max_priority belong to an actor's entry")
        if self.actor is not None and (self.locked or self.lock_enable):
            raise ValueError("locked and lock_enable belong to a schedule's entry")
        return self


class LocalTriggerEntry(_Section):
    """`[[local_triggers]]`: run a pre-programmed schedule while the gateway is on its own."""

    kind: Literal["no_mms_client", "startup"]
    after_s: float = Field(gt=0)  # no_mms_client: seconds without an association; startup: how long
    schedule: str


class Settings(BaseSettings):
    """The whole gateway configuration."""

    model_config = SettingsConfigDict(
        env_prefix="RELEVENT_",
        env_nested_delimiter="__",
        secrets_nested_delimiter="__",  # systemd credential `mqtt__password` -> [mqtt] password
        secrets_prefix="",
        extra="forbid",
        frozen=True,
    )

    gateway: GatewaySection = GatewaySection()
    scl: SclSection = SclSection()
    mms: MmsSection = MmsSection()
    mqtt: MqttSection = MqttSection()
    storage: StorageSection = StorageSection()
    http: HttpSection = HttpSection()
    ocpp: OcppSection = OcppSection()
    audit: AuditSection = AuditSection()
    devices: tuple[DeviceEntry, ...] = ()
    actors: tuple[ActorEntry, ...] = ()
    policy: tuple[PolicyEntry, ...] = ()
    local_triggers: tuple[LocalTriggerEntry, ...] = ()
    hedera: HederaSection = HederaSection()
    iec104: Iec104Section = Iec104Section()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files on an appliance
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line over environment over the TOML file over systemd credentials."""
        toml = InitSettingsSource(settings_cls, init_kwargs=_TOML.get() or {})
        return (init_settings, env_settings, toml, NestedSecretsSettingsSource(file_secret_settings))


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load the configuration; raise `ConfigError` naming every problem and where it was set."""
    text = _read(config_file) if config_file is not None else ""
    try:
        toml = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # names the line and column, never the value
        raise ConfigError(f"cannot read configuration {config_file}: {exc}") from None
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    token = _TOML.set(toml)
    try:
        settings: Settings | None = Settings(_secrets_dir=credentials, **(overrides or {}))  # type: ignore[call-arg]
        errors: list[ErrorDetails] = []
    except ValidationError as exc:
        settings, errors = None, exc.errors()
    except ValueError as exc:  # an environment variable that is no JSON where JSON is expected
        raise ConfigError(f"invalid configuration: {exc}") from None
    finally:
        _TOML.reset(token)
    known = {tuple(error["loc"]) for error in errors}
    file_errors = [error for error in _toml_type_errors(toml) if tuple(error["loc"]) not in known]
    if settings is None or file_errors:
        origins = Origins(config_file, text, overrides or {}, os.environ, Settings.model_config["env_prefix"],
                          Path(credentials) if credentials else None)  # fmt: skip
        raise ConfigError(describe(errors, file_errors, Settings, origins))
    return settings


def _read(config_file: Path) -> str:
    try:
        return config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {config_file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {config_file}: {exc}") from None


def _toml_type_errors(toml: dict[str, Any]) -> list[ErrorDetails]:
    """Values of the wrong TOML type (`port = "102"`), which lax validation would convert.

    Each section is validated strictly as JSON (TOML's types, paths and lists as strings and arrays); only
    type errors count: a section's own checks may need keys another source sets.
    """
    errors: list[ErrorDetails] = []
    for section, value in toml.items():
        if section not in Settings.model_fields:
            continue  # an unknown section: the model reports it
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(Settings.model_fields[section].rebuild_annotation())
            # default=str: a TOML date becomes text here; the lax validation refuses it where text is not due
            adapter.validate_json(json.dumps(value, default=str), strict=True)
        except ValidationError as exc:
            typed = [e for e in exc.errors() if e["type"].endswith("_type")]
            errors += [{**e, "loc": (section, *e["loc"])} for e in typed]
    return errors
