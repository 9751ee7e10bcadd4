"""`[ocpp]`: the CSMS endpoint the charging stations dial, and how the gateway steers them."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, FilePath, model_validator

from relevent.tls_files import check_tls_files


class OcppStation(BaseModel):
    """`[ocpp.stations.<id>]`: one station's own options (its id is a `[[devices]]` id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Security profile 1/2: the station's Basic-auth password (its `AuthorizationKey`), kept in a file.
    password_file: FilePath | None = None
    # Proxy mode: the operator's CSMS the station stays on (`<upstream_url>/<id>`, ws:// or wss://); the
    # gateway relays between them, with the station's subprotocol and Authorization header.
    upstream_url: str | None = Field(default=None, pattern=r"^wss?://[^\s/]+(/[^\s]*)?$")
    # wss:// only: the CA the operator's certificate must be signed by (default: the system's CAs).
    upstream_ca_file: FilePath | None = None

    def upstream_ssl(self) -> ssl.SSLContext | None:
        """The client TLS context for a wss:// upstream (TLS 1.2 at least), None for ws://."""
        if self.upstream_url is None or not self.upstream_url.startswith("wss://"):
            return None
        context = ssl.create_default_context(cafile=self.upstream_ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def password(self) -> bytes | None:
        """The password's bytes (a station key may be any bytes), trailing newline dropped."""
        if self.password_file is None:
            return None
        return Path(self.password_file).read_bytes().rstrip(b"\r\n")


class OcppSection(BaseModel):
    """`[ocpp]`: the WebSocket endpoint `ws://host:port/path/<station id>` and the charging defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8887, ge=0, le=65535)
    path: str = Field(default="/ocpp", pattern=r"^(/[A-Za-z0-9_.-]+)*$")
    # The limit a station falls back to when the gateway is gone and no reserve schedule value is known.
    safe_limit_w: float = Field(default=4140.0, ge=0)
    # Steered power of a layer whose controller has no value: the station's hardware limit decides.
    max_w: float = Field(default=22080.0, gt=0)
    # How far ahead a plan profile reaches; re-sent at half of it, so a dead gateway ends on the reserve.
    horizon_s: int = Field(default=3600, ge=60)
    # OCPP 2.1: how long a steered profile outlives the station's connection to the gateway before the
    # station drops it for the reserve (`maxOfflineDuration`); the horizon still bounds it. Long enough
    # for a restart of the gateway, short against a dead one.
    max_offline_s: int = Field(default=300, ge=0)
    response_timeout_s: float = Field(default=10.0, gt=0)
    heartbeat_s: int = Field(default=60, ge=1)
    # Frames above this size are answered with a CallError and dropped.
    max_message_bytes: int = Field(default=65536, ge=1024)
    # Line voltage and phases until a station's meter values tell better (A <-> W).
    voltage_v: float = Field(default=230.0, gt=0)
    phases: int = Field(default=3, ge=1, le=3)
    stations: dict[str, OcppStation] = Field(default_factory=dict)
    # Proxy mode: the pause between attempts to reach a station's operator CSMS.
    upstream_retry_s: float = Field(default=5.0, gt=0)
    # Security profile 2 (TLS + Basic auth) with cert_file and key_file; profile 3 (mutual TLS) when
    # ca_file is set as well: a station's certificate must be signed by it and name the station (CN).
    tls: bool = False
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    ca_file: FilePath | None = None

    @model_validator(mode="after")
    def _transport_is_explicit(self) -> OcppSection:
        files = {"cert_file": self.cert_file, "key_file": self.key_file}
        check_tls_files(tls=self.tls, required=files, optional={"ca_file": self.ca_file})
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (1.2 at least), requiring client certificates with `ca_file`."""
        if not self.tls:
            return None
        assert self.cert_file is not None  # checked above, with the key
        assert self.key_file is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.ca_file is not None:
            context.load_verify_locations(self.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context
