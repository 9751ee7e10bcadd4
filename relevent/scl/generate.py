"""Generate relevent-gw's default SCL model: a DER scheduler (IEC 61850-90-10) IED, type tables included.

The object names and type ids are those of the public DER scheduler reference model (IED `DER_Scheduler_`,
LD `Control`, `ActPow_FSCC1`, `ActPow_FSCH01`, `ActPow_Res_FSCH01`, `ActPow_GGIO1.AnOut1`, ...), so SCADA
tools and test suites written for it work unchanged. The tables below are written from the standard
(IEC 61850-7-3/-7-4/-90-10 names, CDCs and enumerations); no third-party file is copied.

Choices where the published reference models disagree or fall short:
- GGIO outputs are controllable (APC/SPC, direct-with-normal-security) and `CtlEnt` names the DO, as in
  the newest reference; `MaxPow_GGIO1` uses the ActPow output type as the reference does.
- The FSCC `ValSPS` is a plain SPS (a status, not a control), as in the older reference.
- Reserve schedules are periodic with as many `StrTm` (with `setCal`) as the other schedules; only
  `StrTm01` is set: every hour from 2020-01-01T00:00:00Z, minute 0.
- Reserve values: 0 for ActPow and MaxPow (for MaxPow a fail-safe limit of 0 until a schedule sets one),
  `true` (connected) for OnOff, so a gateway without schedules does not disconnect its devices; the
  reference has `false` there.
- Every LD (one per device) has its own LLN0, LPHD1 and `MMXU1.TotW` (measured active power, W).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from lxml import etree

from relevent.scheduler.enums import SclEnum
from relevent.scheduler.periodic import OccurrenceKind, Period, Weekday
from relevent.scheduler.schedule import EnaErr, SchdSt

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

SCL_NS: Final = "http://www.iec.ch/61850/2003/SCL"
DEFAULT_MODEL: Final = Path(__file__).parent.parent / "data" / "der_scheduler.cid"


# --------------------------------------------------------------------------------------------------------
# The function table: one row per scheduled function.


@dataclass(frozen=True, slots=True)
class ValueKind:
    """How one value CDC appears in schedules (FSCH) and controllers (FSCC)."""

    cdc: str  # CDC of the value slots `Val<cdc>nnn`, also part of the FSCH type ids
    slot_type: str  # DOType of a value slot
    slot_path: tuple[str, ...]  # path of the value inside a slot
    out_do: str  # the schedule's and controller's current value
    out_type: str
    fscc_tag: str  # FSCC type id suffix; the reference names it after the output CDC (APC, SPC)


@dataclass(frozen=True, slots=True)
class Output:
    """The controllable GGIO data object a controller's `CtlEnt` drives."""

    ggio_type: str
    do_name: str
    do_type: str


@dataclass(frozen=True, slots=True)
class Function:
    """A scheduled function: `<name>_FSCC1`, `<name>_FSCHnn`, `<name>_Res_FSCH01` and `<name>_GGIO1`."""

    name: str
    desc: str
    value: ValueKind
    output: Output
    reserve_value: str

    @property
    def prefix(self) -> str:
        """LN prefix of the function's controller, schedules and output."""
        return f"{self.name}_"

    @property
    def reserve_prefix(self) -> str:
        """LN prefix of the function's reserve schedule."""
        return f"{self.name}_Res_"


ANALOG: Final = ValueKind("ASG", "DERScheduler_ASG", ("setMag", "f"), "ValMV", "DERScheduler_MV_ValMV", "APC")
BINARY: Final = ValueKind("SPG", "DERScheduler_SPG", ("setVal",), "ValSPS", "DERScheduler_SPS", "SPC")
APC_OUTPUT: Final = Output("DERScheduler_GGIO_ActPow", "AnOut1", "DERScheduler_APC_ActPow")
SPC_OUTPUT: Final = Output("DERScheduler_GGIO_OnOff", "SPCSO1", "DERScheduler_SPC_direct")

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
_IED_NAME = re.compile(r"[A-Za-z][0-9A-Za-z_]*")
_T = TypeVar("_T")
_MMS_DOMAIN_MAX: Final = 64  # IED name + LD inst form the MMS domain name


# --------------------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    """What `relevent-gw scl generate` builds; raises ValueError when a value is out of range.

    The fields mirror the CLI: `--ied`, `--functions` (comma-separated, written in the given order),
    `--schedules`, `--entries`, `--start-times` and `--devices`.
    """

    ied: str = "DER_Scheduler_"
    functions: tuple[str, ...] = tuple(FUNCTIONS)
    schedules: int = 10  # ordinary schedules per function; the reserve comes on top
    entries: int = 100  # value slots per schedule
    start_times: int = 16  # StrTm per schedule
    devices: int = 1  # one LD per device: Control, Control2, ...

    def __post_init__(self) -> None:
        _check_range("schedules", self.schedules, 1, 99)
        _check_range("entries", self.entries, 1, 9999)
        _check_range("start_times", self.start_times, 1, 99)
        _check_range("devices", self.devices, 1, 999)
        if not self.functions or len(set(self.functions)) != len(self.functions):
            raise ValueError(f"functions must be distinct and not empty: {self.functions!r}")
        unknown = [name for name in self.functions if name not in FUNCTIONS]
        if unknown:
            raise ValueError(f"unknown functions {unknown}; known: {', '.join(FUNCTIONS)}")
        longest_domain = self.ied + ld_inst(self.devices)
        if not _IED_NAME.fullmatch(self.ied) or len(longest_domain) > _MMS_DOMAIN_MAX:
            raise ValueError(
                f"invalid IED name {self.ied!r}: letters, digits and _, starting with a letter, "
                f"and with the LD inst at most {_MMS_DOMAIN_MAX} characters"
            )


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")


# --------------------------------------------------------------------------------------------------------
# Names


def ld_inst(device: int) -> str:
    """LD inst of device 1, 2, ...: `Control`, `Control2`, ..."""
    return "Control" if device == 1 else f"Control{device}"


def numbered(stem: str, index: int, count: int, width: int) -> str:
    """`stem` + index, zero-padded to `width` digits or more when `count` needs more (ValASG001, StrTm01)."""
    return f"{stem}{index:0{max(width, len(str(count)))}d}"


def _value_slot(kind: ValueKind, index: int, count: int) -> str:
    return numbered(f"Val{kind.cdc}", index, count, 3)


def _start_time(index: int, count: int) -> str:
    return numbered("StrTm", index, count, 2)


def _counted(base: str, count: int, default: int, unit: str) -> str:
    """Type id `base`, with `_<count><unit>` appended when the count differs from the reference's."""
    return base if count == default else f"{base}_{count}{unit}"


def fsch_type_id(kind: ValueKind, options: GeneratorOptions, periodic: bool) -> str:
    """Type id of a schedule, e.g. `DERScheduler_FSCH_ASG_100_nonperiodic`."""
    mode = "periodic" if periodic else "nonperiodic"
    base = f"DERScheduler_FSCH_{kind.cdc}_{options.entries}_{mode}"
    return _counted(base, options.start_times, 16, "StrTm")


def fscc_type_id(kind: ValueKind, options: GeneratorOptions) -> str:
    """Type id of a controller, e.g. `DERScheduler_FSCC_APC`."""
    return _counted(f"DERScheduler_FSCC_{kind.fscc_tag}", options.schedules + 1, 11, "Schd")


# --------------------------------------------------------------------------------------------------------
# Type tables (DataTypeTemplates). Only the types an LNodeType reaches are written.


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
    "DERScheduler_ENS_SchdEnaErr": DOTypeDef("ENS", _status("Enum", "ScheduleEnablingErrorKind", "None")),
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


def _enum(first: int, names: str) -> tuple[tuple[int, str], ...]:
    """Consecutive ordinals from `first` for the `|`-separated names."""
    return tuple(enumerate(names.split("|"), start=first))


def _literals(kind: type[SclEnum]) -> tuple[tuple[int, str], ...]:
    """The scheduler's own table of an enumeration it interprets."""
    return tuple((int(member), member.literal) for member in kind)


# IEC 61850-7-3 SIUnit (ordinal 1 is dimensionless); 84 and 85 as used for SchdIntv (h, min).
_SI_UNITS: Final = (
    *_enum(1, "|m|kg|s|A|K|mol|cd|deg|rad|sr"),
    *_enum(21, "Gy|Bq|°C|Sv|F|C|S|H|V|ohm|J|N|Hz|lx|Lm|Wb|T|W|Pa"),
    *_enum(41, "m²|m³|m/s|m/s²|m³/s|m/m³|M|kg/m³|m²/s|W/m K|J/K|ppm|1/s|rad/s|W/m²|J/m²|S/m|K/s|Pa/s|J/kg K"),
    *_enum(61, "VA|Watts|VAr|phi|cos(phi)|Vs|V²|As|A²|A²t|VAh|Wh|VArh|V/Hz|Hz/s|char|char/s|kgm²|dB|J/Wh"),
    *_enum(81, "W/s|l/s|dBm|h|min"),
)
_MULTIPLIERS: Final = tuple(
    zip(
        (-24, -21, -18, -15, -12, -9, -6, -3, -2, -1, 0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24),
        "y z a f p n \u00b5 m c d - da h k M G T P E Z Y".replace("-", "").split(" "),
        strict=True,
    )
)

ENUM_TYPES: Final[Mapping[str, tuple[tuple[int, str], ...]]] = {
    "BehaviourModeKind": _enum(1, "on|blocked|test|test/blocked|off"),
    "HealthKind": _enum(1, "Ok|Warning|Alarm"),
    "CtlModelKind": _enum(
        0,
        "status-only|direct-with-normal-security|sbo-with-normal-security"
        "|direct-with-enhanced-security|sbo-with-enhanced-security",
    ),
    "OriginatorCategoryKind": _enum(
        0,
        "not-supported|bay-control|station-control|remote-control|automatic-bay|automatic-station"
        "|automatic-remote|maintenance|process",
    ),
    "ScheduleStateKind": _literals(SchdSt),
    "ScheduleEnablingErrorKind": _literals(EnaErr),
    "OccurrenceKind": _literals(OccurrenceKind),
    "PeriodKind": _literals(Period),
    "WeekdayKind": _literals(Weekday),
    "MonthKind": _enum(
        0, "reserved|January|February|March|April|May|June|July|August|September|October|November|December"
    ),
    "MultiplierKind": _MULTIPLIERS,
    "SIUnitKind": _SI_UNITS,
}


@dataclass(frozen=True, slots=True)
class LNodeTypeDef:
    """An `LNodeType`: its id, LN class and (DO name, DOType id) pairs in order."""

    id: str
    ln_class: str
    dos: tuple[tuple[str, str], ...]


_SCHEDULE_HEAD: Final = (
    ("Beh", "ENS_Beh_On"),
    ("SchdSt", "DERScheduler_ENS_SchdSt"),
    ("SchdEntr", "DERScheduler_INS"),
)
_SCHEDULE_STATUS: Final = (
    ("ActStrTm", "DERScheduler_TCS"),
    ("NxtStrTm", "DERScheduler_TCS"),
    ("SchdEnaErr", "DERScheduler_ENS_SchdEnaErr"),
    ("EnaReq", "DERScheduler_SPC_direct"),
    ("DsaReq", "DERScheduler_SPC_direct"),
    ("SchdPrio", "DERScheduler_ING"),
    ("NumEntr", "DERScheduler_ING"),
    ("SchdIntv", "DERScheduler_ING_s"),
)

_COMMON_LN_TYPES: Final = (
    LNodeTypeDef(
        "DERScheduler.LLN0",
        "LLN0",
        (
            ("NamPlt", "DERScheduler_LPL"),
            ("Beh", "ENS_Beh_On"),
            ("Health", "ENS_Health"),
            ("Mod", "DERScheduler_Mode_On_statusOnly"),
        ),
    ),
    LNodeTypeDef(
        "DERScheduler_LPHD",
        "LPHD",
        (
            ("PhyNam", "DERScheduler_DPL_PhyNamePlate"),
            ("PhyHealth", "ENS_Health"),
            ("Proxy", "DERScheduler_SPS"),
        ),
    ),
    LNodeTypeDef("DERScheduler_MMXU", "MMXU", (("Beh", "ENS_Beh_On"), ("TotW", "DERScheduler_MV_TotW"))),
)


def fsch_type(kind: ValueKind, options: GeneratorOptions, periodic: bool) -> LNodeTypeDef:
    """Build the schedule LNodeType: state, parameters, value slots, start times (setCal when periodic)."""
    slots = tuple((_value_slot(kind, i, options.entries), kind.slot_type) for i in _one_to(options.entries))
    time_type = "DERScheduler_TSG_setCal" if periodic else "DERScheduler_TSG_setTm"
    times = tuple((_start_time(i, options.start_times), time_type) for i in _one_to(options.start_times))
    return LNodeTypeDef(
        fsch_type_id(kind, options, periodic),
        "FSCH",
        (
            *_SCHEDULE_HEAD,
            (kind.out_do, kind.out_type),
            *_SCHEDULE_STATUS,
            *slots,
            *times,
            ("SchdReuse", "DERScheduler_SPG"),
        ),
    )


def fscc_type(kind: ValueKind, options: GeneratorOptions) -> LNodeTypeDef:
    """Build the controller LNodeType: active schedule, value, controlled entity, schedule references."""
    count = options.schedules + 1
    refs = tuple((numbered("Schd", i, count, 2), "DERScheduler_ORG") for i in _one_to(count))
    return LNodeTypeDef(
        fscc_type_id(kind, options),
        "FSCC",
        (
            ("Beh", "ENS_Beh_On"),
            ("ActSchdRef", "DERScheduler_ORS"),
            (kind.out_do, kind.out_type),
            ("CtlEnt", "DERScheduler_ORG"),
            *refs,
        ),
    )


def ggio_type(output: Output) -> LNodeTypeDef:
    """Build the output LNodeType: one controllable DO."""
    return LNodeTypeDef(output.ggio_type, "GGIO", (("Beh", "ENS_Beh_On"), (output.do_name, output.do_type)))


def ln_types(options: GeneratorOptions) -> list[LNodeTypeDef]:
    """List the LNodeTypes the selected functions need, each once, in a stable order."""
    functions = [FUNCTIONS[name] for name in options.functions]
    kinds = _unique(f.value for f in functions)
    return [
        *_COMMON_LN_TYPES,
        *(ggio_type(output) for output in _unique(f.output for f in functions)),
        *(fscc_type(kind, options) for kind in kinds),
        *(fsch_type(kind, options, periodic) for kind in kinds for periodic in (False, True)),
    ]


def _one_to(count: int) -> range:
    return range(1, count + 1)


def _unique(items: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


def _reachable(lnode_types: Iterable[LNodeTypeDef]) -> set[str]:
    """Ids of every DOType, DAType and EnumType the LNodeTypes use, directly or through structures."""
    seen: set[str] = set()
    todo = [do_type for lnt in lnode_types for _, do_type in lnt.dos]
    while todo:
        type_id = todo.pop()
        if type_id in seen:
            continue
        seen.add(type_id)
        definition = DO_TYPES.get(type_id) or DA_TYPES.get(type_id)
        if definition is not None:
            todo.extend(attr.type for attr in definition.attrs if attr.type)
    return seen


# --------------------------------------------------------------------------------------------------------
# XML building


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """Append an SCL element; attributes keep the given order so the output is reproducible."""
    element = etree.SubElement(parent, f"{{{SCL_NS}}}{tag}", attrs)
    element.text = text
    return element


def _write_attr(parent: etree._Element, tag: str, attr: Attr) -> None:
    attrs = {"name": attr.name, "bType": attr.btype}
    if attr.type:
        attrs["type"] = attr.type
    attrs.update(dict.fromkeys(attr.trg, "true"))
    if attr.fc:
        attrs["fc"] = attr.fc
    if attr.val_kind:
        attrs["valKind"] = attr.val_kind
    element = _el(parent, tag, **attrs)
    if attr.val is not None:
        _el(element, "Val", attr.val)


def _write_templates(root: etree._Element, options: GeneratorOptions) -> None:
    """Write the LNodeTypes, then the DOTypes, DATypes and EnumTypes they reach, in table order."""
    templates = _el(root, "DataTypeTemplates")
    lnode_types = ln_types(options)
    used = _reachable(lnode_types)
    for lnt in lnode_types:
        element = _el(templates, "LNodeType", id=lnt.id, lnClass=lnt.ln_class)
        for name, do_type in lnt.dos:
            _el(element, "DO", name=name, type=do_type)
    for type_id in filter(used.__contains__, DO_TYPES):
        _write_do_type(templates, type_id, DO_TYPES[type_id])
    for type_id in filter(used.__contains__, DA_TYPES):
        _write_da_type(templates, type_id, DA_TYPES[type_id])
    for type_id in filter(used.__contains__, ENUM_TYPES):
        element = _el(templates, "EnumType", id=type_id)
        for ord_, literal in ENUM_TYPES[type_id]:
            _el(element, "EnumVal", literal or None, ord=str(ord_))


def _write_do_type(templates: etree._Element, type_id: str, definition: DOTypeDef) -> None:
    element = _el(templates, "DOType", id=type_id, cdc=definition.cdc, **_desc(definition.desc))
    for attr in definition.attrs:
        _write_attr(element, "DA", attr)


def _write_da_type(templates: etree._Element, type_id: str, definition: DATypeDef) -> None:
    element = _el(templates, "DAType", id=type_id)
    for attr in definition.attrs:
        _write_attr(element, "BDA", attr)
    if definition.prot_ns:
        _el(element, "ProtNs", "IEC 61850-8-1:2003", type="8-MMS")


def _desc(desc: str) -> dict[str, str]:
    return {"desc": desc} if desc else {}


def _doi(ln: etree._Element, name: str, values: Mapping[tuple[str, ...], str]) -> None:
    """Add a DOI with initial values given by attribute path, e.g. {("setMag", "f"): "0"}."""
    doi = _el(ln, "DOI", name=name)
    for path, value in values.items():
        parent = doi
        for sdi_name in path[:-1]:
            existing = parent.find(f"{{{SCL_NS}}}SDI[@name='{sdi_name}']")
            parent = existing if existing is not None else _el(parent, "SDI", name=sdi_name)
        _el(_el(parent, "DAI", name=path[-1]), "Val", value)


def _ln(ld: etree._Element, name: tuple[str, str, str], ln_type: str, desc: str = "") -> etree._Element:
    """Add an LN named by (prefix, lnClass, inst)."""
    prefix, ln_class, inst = name
    return _el(ld, "LN", prefix=prefix, lnClass=ln_class, inst=inst, lnType=ln_type, **_desc(desc))


def _schedule_inst(index: int) -> str:
    return f"{index:02d}"


def _schedule_refs(fn: Function, ld: str, options: GeneratorOptions) -> Iterator[str]:
    """Yield the controller's `SchdNN` references: the ordinary schedules, then the reserve."""
    for i in _one_to(options.schedules):
        yield f"@{ld}/{fn.prefix}FSCH{_schedule_inst(i)}"
    yield f"@{ld}/{fn.reserve_prefix}FSCH{_schedule_inst(1)}"


def _write_controller(ld: etree._Element, ld_name: str, fn: Function, options: GeneratorOptions) -> None:
    ln_type = fscc_type_id(fn.value, options)
    ln = _ln(ld, (fn.prefix, "FSCC", "1"), ln_type, f"Schedule controller ({fn.desc})")
    _doi(ln, "CtlEnt", {("setSrcRef",): f"@{ld_name}/{fn.prefix}GGIO1.{fn.output.do_name}"})
    count = options.schedules + 1
    for i, ref in enumerate(_schedule_refs(fn, ld_name, options), start=1):
        _doi(ln, numbered("Schd", i, count, 2), {("setSrcRef",): ref})


def _write_schedules(ld: etree._Element, fn: Function, options: GeneratorOptions) -> None:
    ln_type = fsch_type_id(fn.value, options, periodic=False)
    for i in _one_to(options.schedules):
        ln = _ln(ld, (fn.prefix, "FSCH", _schedule_inst(i)), ln_type, f"Schedule ({fn.desc})")
        _doi(ln, "NumEntr", {("setVal",): str(options.entries)})
    reserve = _ln(
        ld,
        (fn.reserve_prefix, "FSCH", _schedule_inst(1)),
        fsch_type_id(fn.value, options, periodic=True),
        f"Reserve schedule ({fn.desc})",
    )
    _doi(reserve, "NumEntr", {("setVal",): "1"})
    _doi(reserve, "SchdIntv", {("setVal",): str(RESERVE_INTERVAL_S)})
    _doi(reserve, "SchdPrio", {("setVal",): "0"})
    _doi(reserve, _value_slot(fn.value, 1, options.entries), {fn.value.slot_path: fn.reserve_value})
    _doi(reserve, "SchdReuse", {("setVal",): "true"})
    _doi(
        reserve,
        _start_time(1, options.start_times),
        {
            ("setTm",): RESERVE_START,
            ("setCal", "occType"): "Time",
            ("setCal", "occPer"): "Hour",
            ("setCal", "mn"): "0",
        },
    )


def _write_device(server: etree._Element, device: int, options: GeneratorOptions) -> None:
    """Write one LD: the common LNs, then per function its output, controller and schedules."""
    name = ld_inst(device)
    ld = _el(server, "LDevice", inst=name, desc=f"DER controller, device {device}")
    lln0 = _el(ld, "LN0", lnClass="LLN0", inst="", lnType="DERScheduler.LLN0")
    _doi(
        lln0,
        "NamPlt",
        {
            ("vendor",): "relevent-gw",
            ("swRev",): "1",
            ("d",): "DER scheduler (IEC 61850-90-10)",
            ("configRev",): "1",
        },
    )
    _doi(lln0, "Health", {("stVal",): "Ok"})
    lphd = _ln(ld, ("", "LPHD", "1"), "DERScheduler_LPHD")
    _doi(lphd, "PhyNam", {("vendor",): "relevent-gw"})
    _doi(lphd, "Proxy", {("stVal",): "false"})
    _ln(ld, ("", "MMXU", "1"), "DERScheduler_MMXU", "Measurements of the device")
    functions = [FUNCTIONS[fn] for fn in options.functions]
    for fn in functions:
        _ln(ld, (fn.prefix, "GGIO", "1"), fn.output.ggio_type, f"Generic IO ({fn.desc})")
    for fn in functions:
        _write_controller(ld, name, fn, options)
    for fn in functions:
        _write_schedules(ld, fn, options)


def _write_header_and_communication(root: etree._Element, options: GeneratorOptions) -> None:
    _el(root, "Header", id="relevent-gw default model", version="1", revision="1", toolID="relevent-gw")
    subnet = _el(_el(root, "Communication"), "SubNetwork", name="SubNetworkName", type="8-MMS")
    address = _el(_el(subnet, "ConnectedAP", iedName=options.ied, apName="AccessPoint1"), "Address")
    # The usual MMS defaults; IP 0.0.0.0 means "listen on all interfaces" for libiec61850.
    for p_type, value in (
        ("OSI-AP-Title", "1,1,9999,1"),
        ("OSI-AE-Qualifier", "12"),
        ("OSI-PSEL", "00000001"),
        ("OSI-SSEL", "0001"),
        ("OSI-TSEL", "0001"),
        ("IP", "0.0.0.0"),  # noqa: S104 - a configuration value, not a bind call
        ("IP-SUBNET", "255.255.255.0"),
    ):
        _el(address, "P", value, type=p_type)


def _write_ied(root: etree._Element, options: GeneratorOptions) -> None:
    ied = _el(
        root,
        "IED",
        name=options.ied,
        type="DER_Scheduler",
        manufacturer="relevent-gw",
        configVersion="1",
        originalSclVersion="2007",
        originalSclRevision="B",
    )
    services = _el(ied, "Services", nameLength="64")
    _el(services, "DynAssociation", max="5")
    for service in ("GetDirectory", "GetDataObjectDefinition", "GetDataSetValue", "DataSetDirectory"):
        _el(services, service)
    _el(services, "ConfDataSet", max="10")
    _el(services, "ReadWrite")
    _el(services, "ConfReportControl", max="30")
    _el(services, "GetCBValues")
    _el(services, "ReportSettings", rptID="Dyn", optFields="Dyn", trgOps="Dyn", intgPd="Dyn")
    _el(services, "ConfLNs", fixPrefix="true", fixLnInst="true")
    server = _el(_el(ied, "AccessPoint", name="AccessPoint1"), "Server", desc="Server", timeout="30")
    _el(server, "Authentication", none="true")
    for device in _one_to(options.devices):
        _write_device(server, device, options)


# --------------------------------------------------------------------------------------------------------
# Public API


def generate_scl(options: GeneratorOptions | None = None) -> etree._ElementTree:
    """Build the SCL 2007B4 document for `options` (the default model when None)."""
    options = options or GeneratorOptions()
    # Parsed rather than built: lxml-stubs reject nsmap={None: ...}, the way to make SCL_NS the default.
    root = etree.fromstring(f'<SCL xmlns="{SCL_NS}" version="2007" revision="B" release="4"/>')
    _write_header_and_communication(root, options)
    _write_ied(root, options)
    _write_templates(root, options)
    return etree.ElementTree(root)


def render_scl(options: GeneratorOptions | None = None) -> bytes:
    """Serialize the document as indented UTF-8; identical options give identical bytes."""
    return etree.tostring(generate_scl(options), xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_scl(options: GeneratorOptions | None, path: str | Path) -> Path:
    """Write the document to `path` and return the path."""
    target = Path(path)
    target.write_bytes(render_scl(options))
    return target
