"""Pydantic models of every payload of the device contract (docs/schemas is generated from them).

Outbound models forbid unknown fields (the gateway writes exactly the contract); inbound models ignore them,
so a device built against a later minor revision still talks to this gateway, but every known field is
checked for type and range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    NonNegativeInt,
    PlainSerializer,
    model_validator,
)

from relevent.timerange import check_time, checked_seconds


def format_ts(value: datetime) -> str:
    """UTC with milliseconds and a `Z`: `2026-11-26T10:00:00.000Z`."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc(epoch_s: float) -> datetime:
    """An aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(epoch_s, UTC)


def _representable(value: datetime) -> datetime:
    checked_seconds(value)  # a TimeRangeError is a ValueError: pydantic reports it as the field's error
    return value


Timestamp = Annotated[AwareDatetime, PlainSerializer(format_ts, return_type=str, when_used="json")]
InboundTime = Annotated[AwareDatetime, AfterValidator(_representable)]
"""A time a peer sends: aware, and within the gateway's representable range (`relevent.timerange`)."""


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GatewayStatus(_Outbound):
    """`<root>/status` (retained): `online` with time and version; the last will is `{"state":"offline"}`."""

    state: Literal["online", "offline"]
    ts: Timestamp | None = None
    version: str | None = None


class Source(_Outbound):
    """Where a command field comes from: the active schedule and its priority."""

    schedule: str
    prio: int


class CommandSources(_Outbound):
    """The source of each non-null command field."""

    w_set: Source | None = None
    w_max_lim: Source | None = None
    on: Source | None = None


class Command(_Outbound):
    """`dev/<id>/ctl/set`: the whole intent now in force for one device. Never retained."""

    id: UUID
    seq: NonNegativeInt
    ts: Timestamp
    w_set: float | None
    w_max_lim: float | None = Field(ge=0)
    on: bool | None
    valid_until: Timestamp
    src: CommandSources


class PlanEntry(_Outbound):
    """From `start` on, the device is expected to get these fields."""

    start: Timestamp
    w_set: float | None
    w_max_lim: float | None = Field(ge=0)
    on: bool | None


class Plan(_Outbound):
    """`dev/<id>/ctl/plan` (retained): the forecast of the device's commands."""

    ts: Timestamp
    entries: list[PlanEntry]


class Applied(_Inbound):
    """What a device applied after clamping."""

    w_set: FiniteFloat | None = None
    w_max_lim: FiniteFloat | None = Field(default=None, ge=0)
    on: bool | None = None


class Ack(_Inbound):
    """`dev/<id>/ctl/ack`: the device's answer to the command `id`."""

    id: UUID
    result: Literal["accepted", "clamped", "rejected"]
    applied: Applied | None = None
    reason: str | None = Field(default=None, max_length=256)


class Measurement(_Inbound):
    """`dev/<id>/meas`: `ts` and `w` required; W and var signed (positive = injection)."""

    ts: InboundTime
    seq: NonNegativeInt | None = None
    w: FiniteFloat
    var: FiniteFloat | None = None
    soc_pct: FiniteFloat | None = Field(default=None, ge=0, le=100)


class DeviceState(_Inbound):
    """`dev/<id>/state` (retained): what the device applies now, and whether it runs its own fail-safe."""

    fallback: bool
    ts: InboundTime | None = None
    w_set: FiniteFloat | None = None
    w_max_lim: FiniteFloat | None = Field(default=None, ge=0)
    on: bool | None = None


class Availability(_Inbound):
    """`dev/<id>/avail` (retained, the device's last will)."""

    state: Literal["online", "offline"]


class EpochTime(_Inbound):
    """A protobuf-style timestamp."""

    seconds: NonNegativeInt
    nanos: int = Field(default=0, ge=0, le=999_999_999)

    @model_validator(mode="after")
    def _in_range(self) -> EpochTime:
        check_time(self.seconds + self.nanos / 1e9)
        return self


RESOLUTIONS_S = {"FIVE_MINUTES": 300, "FIFTEEN_MINUTES": 900}


class ExtensionRequestPayload(_Inbound):
    """A local EMS's HEDERA-style request: magnitudes in W per interval, `direction` gives the sign.

    Without `start` the schedule starts now.
    """

    direction: Literal["IMPORT", "EXPORT"]
    start: EpochTime | None = None
    resolution: Literal["FIVE_MINUTES", "FIFTEEN_MINUTES"]
    values: list[Annotated[FiniteFloat, Field(ge=0)]] = Field(min_length=1, max_length=100)


class ExtensionReply(_Outbound):
    """The answer to an extension request, on the reply topic."""

    result: Literal["accepted", "rejected"]
    ts: Timestamp
    slot: str | None = None
    reason: str | None = None
