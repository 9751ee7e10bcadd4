"""`[iec104]`: the outstation's endpoint, its actor, and one entry per information object."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, model_validator

from relevent.tls_files import check_tls_files

COMMANDS = ("C_SE_NC_1", "C_SE_TC_1", "C_SC_NA_1", "C_SC_TA_1")
MONITORED = ("M_ME_NC_1", "M_SP_NA_1")


class Iec104Point(BaseModel):
    """`[[iec104.points]]`: one information object and what it means in the model.

    A command (`C_SE_NC_1` float setpoint, `C_SC_NA_1` single command, their time-tagged `_TC_`/`_TA_`
    forms) becomes an intent of `function` on `target` (a controller such as "@Control/MaxPow_FSCC1" or a
    `[[devices]]` id); with `release = true` a single command ON cancels the actor's intent of `function`
    on the target instead (what the lower priorities or the reserve say runs again). A monitored object
    shows `show` of the controller `target`: its `output`, whether the actor's intent there is `running`,
    or running but `overridden` by a higher priority; or of the `[[devices]]` id `target`: its `measured`
    active power (W, positive: injection) or whether it is `reachable`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ioa: int = Field(ge=1, le=16_777_215)
    type: Literal["C_SE_NC_1", "C_SE_TC_1", "C_SC_NA_1", "C_SC_TA_1", "M_ME_NC_1", "M_SP_NA_1"]
    target: str
    function: Literal["ActPow", "MaxPow", "OnOff"] | None = None
    release: bool = False
    show: Literal["output", "running", "overridden", "measured", "reachable"] | None = None
    min: float | None = None  # a setpoint outside [min, max] is answered with a negative ACT_CON
    max: float | None = None
    units: str = ""  # for the operator: the model's units (kW in the reference model)
    deadband: float = Field(default=0.0, ge=0)  # an analogue goes out when it moves more than this
    select_before_operate: bool = False  # commands: a select must come first (c104 enforces it)
    # Commands on a [[devices]] id: refused (negative ACT_CON) while its driver does not reach the device.
    refuse_when_unreachable: bool = False

    @property
    def command(self) -> bool:
        """Whether SCADA sends this object (control direction)."""
        return self.type in COMMANDS

    @model_validator(mode="after")
    def _a_meaning(self) -> Iec104Point:
        if self.command and self.function is None:
            raise ValueError(f"IOA {self.ioa}: a command needs a function (ActPow, MaxPow, OnOff)")
        if self.release and self.type not in {"C_SC_NA_1", "C_SC_TA_1"}:
            raise ValueError(f"IOA {self.ioa}: a release is a single command (C_SC_NA_1)")
        if not self.release and self.function == "OnOff" and self.type not in {"C_SC_NA_1", "C_SC_TA_1"}:
            raise ValueError(f"IOA {self.ioa}: OnOff is switched by a single command (C_SC_NA_1)")
        if not self.release and self.function in {"ActPow", "MaxPow"} and not self.type.startswith("C_SE"):
            raise ValueError(f"IOA {self.ioa}: {self.function} takes a setpoint (C_SE_NC_1)")
        if not self.command and self.show is None:
            raise ValueError(f"IOA {self.ioa}: a monitored object needs show = output | running | overridden")
        if self.type == "M_ME_NC_1" and self.show not in {"output", "measured"}:
            raise ValueError(f"IOA {self.ioa}: M_ME_NC_1 shows an output or a measured value")
        if self.type == "M_SP_NA_1" and self.show == "measured":
            raise ValueError(f"IOA {self.ioa}: a measured value is an M_ME_NC_1")
        return self


class LinkLoss(BaseModel):
    """`[iec104.on_link_loss]`: what happens to the actor's intents when no SCADA sent a frame `after_s`.

    A live link sends at least a test frame every t3 (20 s), so `after_s` should be well above it.

    `keep` leaves them, `release` ends them (the lower priorities or the reserve take over), `value` puts
    `value` into every setpoint (a safe limit) as the actor's intent. Both are audited like commands.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_s: float = Field(default=900.0, gt=0)
    action: Literal["keep", "release", "value"] = "keep"
    value: float | None = None

    @model_validator(mode="after")
    def _a_value_when_asked(self) -> LinkLoss:
        if (self.action == "value") != (self.value is not None):
            raise ValueError('action = "value" and value go together')
        return self


class Iec104Section(BaseModel):
    """`[iec104]`: an outstation for a 104 SCADA, in parallel with MMS (see docs/scada-guide.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=2404, ge=0, le=65535)
    common_address: int = Field(default=1, ge=1, le=65534)
    # 104's link parameters: k, w (frames), t0..t3 (s); the standard's defaults.
    k: int = Field(default=12, ge=1, le=32767)
    w: int = Field(default=8, ge=1, le=32767)
    t0_s: int = Field(default=10, ge=1, le=255)
    t1_s: int = Field(default=15, ge=1, le=255)
    t2_s: int = Field(default=10, ge=1, le=255)
    t3_s: int = Field(default=20, ge=1, le=172800)
    # The [[actors]] entry (its band and slots) every command of this outstation is placed as.
    actor: str = "dso"
    allowed_clients: tuple[str, ...] = ()  # IP addresses; empty: any
    max_connections: int = Field(default=2, ge=1, le=16)  # a main and a redundant SCADA connection
    # IEC 62351-3: TLS 1.2/1.3 with mutual authentication; the client certificates are pinned (only those
    # listed are served) or, with none listed, any that `ca_file` signed.
    tls: bool = False
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    ca_file: FilePath | None = None
    pinned_client_certs: tuple[FilePath, ...] = ()
    allowed_originators: tuple[int, ...] = ()  # originator addresses; empty: any
    max_cmd_age_s: float = Field(default=30.0, gt=0)  # time-tagged commands older than this are refused
    # A command's answer waits this long at most for the scheduler (well below t1 = 15 s).
    command_timeout_s: float = Field(default=1.0, gt=0, le=10)
    # ACT_TERM once the intent runs and sets the controller's output, or after this long at the latest.
    termination_timeout_s: float = Field(default=5.0, gt=0)
    on_link_loss: LinkLoss = LinkLoss()
    points: tuple[Iec104Point, ...] = ()

    @model_validator(mode="after")
    def _transport_is_explicit(self) -> Iec104Section:
        files = {"cert_file": self.cert_file, "key_file": self.key_file, "ca_file": self.ca_file}
        pinned = {"pinned_client_certs": self.pinned_client_certs}
        check_tls_files(tls=self.tls, required=files, optional=pinned)
        return self

    @model_validator(mode="after")
    def _link_parameters(self) -> Iec104Section:
        if self.w > self.k:
            raise ValueError(f"w ({self.w}) above k ({self.k}): the SCADA would wait for acknowledgements")
        if self.t2_s >= self.t1_s:
            raise ValueError(f"t2 ({self.t2_s} s) must be below t1 ({self.t1_s} s)")
        if self.command_timeout_s >= self.t1_s:
            raise ValueError(f"command_timeout_s must be well below t1 ({self.t1_s} s)")
        return self

    @model_validator(mode="after")
    def _unique_addresses(self) -> Iec104Section:
        seen: set[int] = set()
        for point in self.points:
            if point.ioa in seen:
                raise ValueError(f"IOA {point.ioa} is configured twice")
            seen.add(point.ioa)
        return self
