"""`[hedera]`: HEDERA's API, the credentials, the directions with their firm capacity, the EMS topics."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from relevent.errors import ConfigError

CREDENTIAL_NAME = "hedera_client_secret"  # $CREDENTIALS_DIRECTORY/<this> when no secret file is named


class _HederaModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class HederaDirectionSection(_HederaModel):
    """`[hedera.import]`, `[hedera.export]`: one inter-tie and the controller its grants limit."""

    mrid: UUID  # the inter-tie's id in HEDERA (ReLevENT's `[hedera-import] mrid`)
    hedera_direction: Literal["I", "E"]  # the letter HEDERA expects for this mRID
    controller: str = "@Control/MaxPow_FSCC1"  # the MaxPow controller its grants and firm capacity feed
    firm_capacity_w: float = Field(ge=0)  # ReLevENT's `limitWatts`: what runs when HEDERA is out of reach
    max_w: float = Field(default=1e9, gt=0)  # an EMS value above this is refused before any HTTP call


class HederaEmsSection(_HederaModel):
    """`[hedera.ems]`: the EMS's MQTT topics and what losing it means."""

    request_topic: str = Field(default="hedera-requests", min_length=1, pattern=r"^[^+#\x00]+$")
    reply_topic: str = (
        ""  # default <request_topic>/reply; an MQTT 5 response topic wins below response_prefix
    )
    # An MQTT 5 response topic is used only below this prefix (none: never): else anyone who may publish a
    # request could make the gateway publish on any topic, a device's commands included.
    response_prefix: str | None = Field(default=None, min_length=1, pattern=r"^[^+#\x00]+$")
    state_topic: str = ""  # default <[mqtt] root>/<gateway id>/hedera/state (retained)
    ems_avail_topic: str = ""  # the EMS's availability (its last will says "offline")
    ems_timeout_s: float = Field(
        default=0.0, ge=0
    )  # no EMS message this long: lost (0: only the avail topic)
    on_ems_loss: Literal["firm", "keep"] = "firm"
    release_after_s: float = Field(default=300.0, gt=0)  # EMS away this long: its schedules are deleted
    allow_skip_hedera: bool = False  # `skipHedera` writes EMS values unchecked by HEDERA: off by default
    accept_relaxed_json: bool = True  # ReLevENT's scripts send JSON without quotes
    start_lead_s: float = Field(default=0.0, ge=0)  # a request must start at least this far ahead
    queue_size: int = Field(default=16, ge=1)  # requests waiting per direction; beyond: rejected "busy"

    def reply(self, response_topic: str | None = None) -> str:
        """Where to reply: a request's MQTT 5 response topic below `response_prefix`, else the reply topic."""
        prefix = self.response_prefix
        if (
            response_topic
            and prefix
            and response_topic.startswith(prefix)
            and not set("+#") & set(response_topic)
        ):
            return response_topic
        return self.reply_topic or f"{self.request_topic}/reply"


class HederaSection(_HederaModel):
    """`[hedera]`: capacity requests to the grid operator's HEDERA API (see docs/operator-guide.md)."""

    enabled: bool = False
    base_url: str = Field(default="https://api.hedera.alliander.com", pattern=r"^https?://[^\s]+$")
    media_type: str = "application/vnd.hedera.v1+json"
    token_url: str = Field(
        default="https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token", pattern=r"^https?://[^\s]+$"
    )
    scope: str = "api://api.hedera.alliander.com/.default"
    client_id: str = ""
    # Never in this file: a file readable by the gateway's user only (a systemd credential by default).
    client_secret_file: Path | None = None
    ca_file: Path | None = None  # an extra CA for HEDERA and the token endpoint
    poll_interval_s: float = Field(default=5.0, gt=0)  # a pending schedule without a directive
    first_poll_delay_s: float = Field(default=5.0, ge=0)
    post_grace_s: float = Field(default=30.0, ge=0)  # 404 this soon after the POST means "not yet"
    # How far HEDERA's clock may be off: a schedule created this close to an uncertain POST may be its.
    clock_skew_s: float = Field(default=30.0, ge=0)
    decision_timeout_s: float = Field(default=300.0, gt=0)  # then the request is deleted: `timeout`
    refresh_interval_s: float = Field(default=300.0, gt=0)  # an accepted schedule without a directive
    grant_stale_after_s: float = Field(default=600.0, gt=0)  # no directive and no read this long: firm
    token_refresh_margin_s: float = Field(default=300.0, ge=0)
    max_backoff_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    total_timeout_s: float = Field(default=15.0, gt=0)
    delete_scope: Literal["own", "overlapping", "all"] = "overlapping"
    align_start: bool = False  # refuse starts that are not a multiple of the resolution
    on_shutdown: Literal["firm", "keep"] = "firm"
    import_: HederaDirectionSection | None = Field(default=None, alias="import")
    export: HederaDirectionSection | None = None
    ems: HederaEmsSection = HederaEmsSection()

    @model_validator(mode="after")
    def _usable(self) -> HederaSection:
        if not self.enabled:
            return self
        if not self.client_id:
            raise ValueError("enabled = true needs client_id")
        if self.import_ is None and self.export is None:
            raise ValueError("enabled = true needs [hedera.import] or [hedera.export]")
        if self.import_ is not None and self.export is not None and self.import_.mrid == self.export.mrid:
            raise ValueError("[hedera.import] and [hedera.export] name the same mrid")
        for url in (self.base_url, self.token_url):
            if url.startswith("http://") and not url.startswith(("http://127.0.0.1", "http://[::1]")):
                raise ValueError(f"{url}: plain http only to loopback")
        return self

    def directions(self) -> dict[str, HederaDirectionSection]:
        """The configured directions by their EMS name (`IMPORT`, `EXPORT`)."""
        found = {"IMPORT": self.import_, "EXPORT": self.export}
        return {name: section for name, section in found.items() if section is not None}

    def secret_path(self) -> Path:
        """The client secret's file: `client_secret_file`, else the systemd credential."""
        if self.client_secret_file is not None:
            return self.client_secret_file
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if not credentials:
            raise ConfigError(
                f"[hedera] needs client_secret_file or the systemd credential {CREDENTIAL_NAME}"
            )
        return Path(credentials) / CREDENTIAL_NAME

    def client_secret(self) -> SecretStr:
        """The client secret; refused when its file is readable by the group or the world."""
        path = self.secret_path()
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(f"[hedera] secret file {path} is readable by others: chmod 600 it")
            return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"[hedera] secret file {path}: cannot read it: {exc}") from None
