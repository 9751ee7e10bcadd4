"""The function table of the default model: one row per scheduled function, with the SCL types it uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from relevent.scheduler.spec import ValueCdc

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class CdcTemplates:
    """How one value CDC (the scheduler's `ValueCdc`) appears in schedules (FSCH) and controllers (FSCC)."""

    kind: ValueCdc
    slot_type: str  # DOType of a value slot
    out_type: str  # DOType of the schedule's and controller's current value
    fscc_tag: str  # FSCC type id suffix; the reference names it after the output CDC (APC, SPC)

    @property
    def cdc(self) -> str:
        """CDC of the value slots `Val<cdc>nnn`, also part of the FSCH type ids."""
        return self.kind.value

    @property
    def slot_path(self) -> tuple[str, ...]:
        """Path of the value inside a slot."""
        return tuple(self.kind.value_da.split("."))

    @property
    def out_do(self) -> str:
        """The schedule's and controller's current value."""
        return self.kind.output[0]


@dataclass(frozen=True, slots=True)
class GgioOutput:
    """The controllable GGIO data object a controller's `CtlEnt` drives."""

    ggio_type: str
    do_name: str
    do_type: str


@dataclass(frozen=True, slots=True)
class Function:
    """A scheduled function: `<name>_FSCC1`, `<name>_FSCHnn`, `<name>_Res_FSCH01` and `<name>_GGIO1`."""

    name: str
    desc: str
    value: CdcTemplates
    output: GgioOutput
    reserve_value: str

    @property
    def prefix(self) -> str:
        """LN prefix of the function's controller, schedules and output."""
        return f"{self.name}_"

    @property
    def reserve_prefix(self) -> str:
        """LN prefix of the function's reserve schedule."""
        return f"{self.name}_Res_"


ANALOG: Final = CdcTemplates(ValueCdc.ASG, "DERScheduler_ASG", "DERScheduler_MV_ValMV", "APC")
BINARY: Final = CdcTemplates(ValueCdc.SPG, "DERScheduler_SPG", "DERScheduler_SPS", "SPC")
APC_OUTPUT: Final = GgioOutput("DERScheduler_GGIO_ActPow", "AnOut1", "DERScheduler_APC_ActPow")
SPC_OUTPUT: Final = GgioOutput("DERScheduler_GGIO_OnOff", "SPCSO1", "DERScheduler_SPC_direct")

FUNCTIONS: Final[Mapping[str, Function]] = {
    f.name: f
    for f in (
        Function("ActPow", "active power", ANALOG, APC_OUTPUT, "0"),
        Function("MaxPow", "maximum power", ANALOG, APC_OUTPUT, "0"),
        Function("OnOff", "on/off control", BINARY, SPC_OUTPUT, "true"),
    )
}

RESERVE_START: Final = "2020-01-01T00:00:00Z"
RESERVE_INTERVAL_S: Final = 3600
