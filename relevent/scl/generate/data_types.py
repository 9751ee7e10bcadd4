"""The DOTypes and DATypes of the default model (IEC 61850-7-3 CDCs as the reference model names them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from relevent.scheduler.schedule import EnaErr

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class Attr:
    """A `DA` (with `fc`) or `BDA` (without); `type` names the DAType of a Struct or EnumType of an Enum."""

    name: str
    btype: str
    fc: str = ""
    type: str = ""
    trg: tuple[str, ...] = ()  # trigger options set to true: dchg, qchg, dupd
    val: str | None = None
    val_kind: str = ""


@dataclass(frozen=True, slots=True)
class DOTypeDef:
    """A `DOType`."""

    cdc: str
    attrs: tuple[Attr, ...]
    desc: str = ""


@dataclass(frozen=True, slots=True)
class DATypeDef:
    """A `DAType`; control structures carry the MMS protocol namespace."""

    attrs: tuple[Attr, ...]
    prot_ns: bool = False


def _with_quality(value: Attr) -> tuple[Attr, ...]:
    """Add quality and timestamp (same FC) to a value, as every status or measured CDC has them."""
    return (value, Attr("q", "Quality", value.fc, trg=("qchg",)), Attr("t", "Timestamp", value.fc))


def _status(btype: str, type_: str = "", val: str | None = None) -> tuple[Attr, ...]:
    return _with_quality(Attr("stVal", btype, "ST", type_, ("dchg",), val))


def _setting(btype: str, type_: str = "", name: str = "setVal") -> Attr:
    return Attr(name, btype, "SP", type_, ("dchg",))


def _config(name: str, btype: str, type_: str = "", val: str | None = None, val_kind: str = "") -> Attr:
    return Attr(name, btype, "CF", type_, ("dchg",), val, val_kind)


def _nameplate(*names: str) -> tuple[Attr, ...]:
    return tuple(Attr(name, "VisString255", "DC") for name in names)


def _oper(ctl_val: Attr) -> DATypeDef:
    """Build the `Oper` structure of a control with the given `ctlVal`."""
    return DATypeDef(
        (
            ctl_val,
            Attr("origin", "Struct", type="DERScheduler_Originator"),
            Attr("ctlNum", "INT8U"),
            Attr("T", "Timestamp"),
            Attr("Test", "BOOLEAN"),
            Attr("Check", "Check"),
        ),
        prot_ns=True,
    )


def _units(si_unit: str, multiplier: str | None = None) -> DATypeDef:
    return DATypeDef(
        (
            Attr("SIUnit", "Enum", type="SIUnitKind", val=si_unit),
            Attr("multiplier", "Enum", type="MultiplierKind", val=multiplier),
        )
    )


_DIRECT: Final = "direct-with-normal-security"
_CTL_MODEL_DIRECT: Final = _config("ctlModel", "Enum", "CtlModelKind", _DIRECT)

DO_TYPES: Final[Mapping[str, DOTypeDef]] = {
    "ENS_Beh_On": DOTypeDef("ENS", _status("Enum", "BehaviourModeKind", "on"), "Behaviour"),
    "ENS_Health": DOTypeDef("ENS", _status("Enum", "HealthKind"), "Health"),
    "DERScheduler_Mode_On_statusOnly": DOTypeDef(
        "ENC",
        (
            *_status("Enum", "BehaviourModeKind", "on"),
            _config("ctlModel", "Enum", "CtlModelKind", "status-only", "RO"),
        ),
        "Mode",
    ),
    "DERScheduler_LPL": DOTypeDef("LPL", _nameplate("vendor", "swRev", "d", "configRev")),
    "DERScheduler_DPL_PhyNamePlate": DOTypeDef(
        "DPL", _nameplate("vendor", "hwRev", "swRev", "serNum", "model")
    ),
    "DERScheduler_SPS": DOTypeDef("SPS", _status("BOOLEAN")),
    "DERScheduler_INS": DOTypeDef("INS", _status("INT32")),
    "DERScheduler_TCS": DOTypeDef("TCS", _status("Timestamp")),
    "DERScheduler_ENS_SchdSt": DOTypeDef("ENS", _status("Enum", "ScheduleStateKind")),
    "DERScheduler_ENS_SchdEnaErr": DOTypeDef(
        "ENS", _status("Enum", "ScheduleEnablingErrorKind", EnaErr.NONE.literal)
    ),
    "DERScheduler_ORS": DOTypeDef("ORS", _status("ObjRef")),
    "DERScheduler_ORG": DOTypeDef("ORG", (_setting("ObjRef", name="setSrcRef"),)),
    "DERScheduler_ING": DOTypeDef("ING", (_setting("INT32"),)),
    "DERScheduler_ING_s": DOTypeDef(
        "ING", (_setting("INT32"), _config("units", "Struct", "DERScheduler_Units_s"))
    ),
    "DERScheduler_SPG": DOTypeDef("SPG", (_setting("BOOLEAN"),)),
    "DERScheduler_ASG": DOTypeDef("ASG", (_setting("Struct", "AnalogueValue", "setMag"),)),
    "DERScheduler_TSG_setTm": DOTypeDef("TSG", (_setting("Timestamp", name="setTm"),)),
    "DERScheduler_TSG_setCal": DOTypeDef(
        "TSG", (_setting("Timestamp", name="setTm"), _setting("Struct", "CalendarTime", "setCal"))
    ),
    "DERScheduler_MV_ValMV": DOTypeDef(
        "MV",
        (
            # dupd: every entry boundary reports the schedule value, even when it repeats
            *_with_quality(Attr("mag", "Struct", "MX", "AnalogueValue", ("dupd",))),
            _config("units", "Struct", "DERScheduler_Units_kW"),
            Attr("d", "VisString255", "DC"),
        ),
    ),
    "DERScheduler_MV_TotW": DOTypeDef(
        "MV",
        (
            *_with_quality(Attr("mag", "Struct", "MX", "AnalogueValue", ("dchg",))),
            _config("units", "Struct", "DERScheduler_Units_W"),
        ),
        "Total active power",
    ),
    "DERScheduler_SPC_direct": DOTypeDef(
        "SPC",
        (
            Attr("origin", "Struct", "ST", "DERScheduler_Originator"),
            Attr("ctlNum", "INT8U", "ST"),
            *_status("BOOLEAN"),
            _CTL_MODEL_DIRECT,
            Attr("Oper", "Struct", "CO", "DERScheduler_SPC_Oper"),
        ),
    ),
    "DERScheduler_APC_ActPow": DOTypeDef(
        "APC",
        (
            *_with_quality(Attr("mxVal", "Struct", "MX", "AnalogueValue", ("dchg",))),
            _CTL_MODEL_DIRECT,
            _config("units", "Struct", "DERScheduler_Units_kW"),
            _config("minVal", "Struct", "AnalogueValue"),
            _config("maxVal", "Struct", "AnalogueValue"),
            _config("dbRef", "FLOAT32"),
            Attr("Oper", "Struct", "CO", "DERScheduler_APC_Oper"),
        ),
        "Active power setpoint",
    ),
}

DA_TYPES: Final[Mapping[str, DATypeDef]] = {
    "DERScheduler_SPC_Oper": _oper(Attr("ctlVal", "BOOLEAN")),
    "DERScheduler_APC_Oper": _oper(Attr("ctlVal", "Struct", type="AnalogueValue")),
    "DERScheduler_Originator": DATypeDef(
        (Attr("orCat", "Enum", type="OriginatorCategoryKind"), Attr("orIdent", "Octet64"))
    ),
    "CalendarTime": DATypeDef(
        (
            Attr("occ", "INT16U"),
            Attr("occType", "Enum", type="OccurrenceKind"),
            Attr("occPer", "Enum", type="PeriodKind"),
            Attr("weekDay", "Enum", type="WeekdayKind"),
            Attr("month", "Enum", type="MonthKind"),
            Attr("day", "INT8U"),
            Attr("hr", "INT8U"),
            Attr("mn", "INT8U"),
        )
    ),
    "AnalogueValue": DATypeDef((Attr("f", "FLOAT32"),)),
    "DERScheduler_Units_kW": _units("W", "k"),
    "DERScheduler_Units_W": _units("W"),
    "DERScheduler_Units_s": _units("s"),
}
