"""Optional output for existing ReLevENT LAN consumers: FledgePower pivot messages on `fledge/south-*`.

`fledge/south-command` gets a `PivotCommand` at each controller output change, `fledge/south-schedule` a
`PivotSchedule` (one `PIVOTTC` per change of the forecast, the value in force first) periodically.
`Identifier` is the controller's full reference; `ApcTyp` carries power, `SpcTyp` on/off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relevent.scheduler.values import ScheduleValue, Timestamp

COMMAND_TOPIC = "fledge/south-command"
SCHEDULE_TOPIC = "fledge/south-schedule"


class _Pivot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)


class PivotQuality(_Pivot):
    """Quality: only the test flag is used."""

    test: int = 0


class PivotTime(_Pivot):
    """IEC 61850 time: whole seconds and a 24-bit binary fraction."""

    second_since_epoch: int = Field(alias="SecondSinceEpoch")
    fraction_of_second: int = Field(alias="FractionOfSecond", ge=0, lt=2**24)

    @classmethod
    def of(cls, ts: Timestamp) -> PivotTime:
        """Split epoch seconds."""
        seconds = int(ts // 1)
        return cls(SecondSinceEpoch=seconds, FractionOfSecond=int((ts - seconds) * 2**24))


class ApcTyp(_Pivot):
    """An analogue setpoint (W)."""

    ctl_val: float = Field(alias="ctlVal")
    q: PivotQuality = PivotQuality()
    t: PivotTime


class SpcTyp(_Pivot):
    """A single-point (on/off) command."""

    ctl_val: bool = Field(alias="ctlVal")
    q: PivotQuality = PivotQuality()
    t: PivotTime


class Gtic(_Pivot):
    """The pivot telecommand; exactly one of `ApcTyp`/`SpcTyp` is set."""

    coming_from: Literal["iec61850"] = Field(default="iec61850", alias="ComingFrom")
    identifier: str = Field(alias="Identifier")
    apc_typ: ApcTyp | None = Field(default=None, alias="ApcTyp")
    spc_typ: SpcTyp | None = Field(default=None, alias="SpcTyp")


class PivotTcValue(_Pivot):
    """Wrapper as the pivot model nests it."""

    gtic: Gtic = Field(alias="GTIC")


class PivotParameter(_Pivot):
    """One telecommand of a pivot operation."""

    name: Literal["PIVOTTC"] = "PIVOTTC"
    value: PivotTcValue


class PivotCommand(_Pivot):
    """`fledge/south-command`: one controller's new value."""

    operation: Literal["PivotCommand"] = "PivotCommand"
    parameters: list[PivotParameter] = Field(min_length=1, max_length=1)


class PivotSchedule(_Pivot):
    """`fledge/south-schedule`: one controller's forecast as timed telecommands."""

    operation: Literal["PivotSchedule"] = "PivotSchedule"
    parameters: list[PivotParameter] = Field(min_length=1)


def _parameter(identifier: str, value: ScheduleValue, ts: Timestamp) -> PivotParameter:
    t = PivotTime.of(ts)
    gtic = (
        Gtic(Identifier=identifier, SpcTyp=SpcTyp(ctlVal=value, t=t))
        if isinstance(value, bool)
        else Gtic(Identifier=identifier, ApcTyp=ApcTyp(ctlVal=float(value), t=t))
    )
    return PivotParameter(value=PivotTcValue(GTIC=gtic))


def pivot_command(controller_ref: str, value: ScheduleValue | None, ts: Timestamp) -> PivotCommand | None:
    """The command for a new output value; None for "no value", which pivot commands cannot express."""
    if value is None:
        return None
    return PivotCommand(parameters=[_parameter(controller_ref, value, ts)])


def pivot_schedule(
    controller_ref: str, changes: Iterable[tuple[Timestamp, ScheduleValue | None]]
) -> PivotSchedule | None:
    """The schedule of a controller's forecast; spans without a value are left out."""
    parameters = [_parameter(controller_ref, value, t) for t, value in changes if value is not None]
    return PivotSchedule(parameters=parameters) if parameters else None


def dump(model: BaseModel) -> bytes:
    """Compact JSON without the absent telecommand type."""
    return model.model_dump_json(exclude_none=True).encode()
