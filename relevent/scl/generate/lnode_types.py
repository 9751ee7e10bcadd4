"""The LNodeTypes of the default model (schedules, controllers, outputs, common LNs) and the types used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from relevent.scl.generate.data_types import DA_TYPES, DO_TYPES
from relevent.scl.generate.functions import FUNCTIONS, CdcTemplates, GgioOutput
from relevent.scl.generate.names import fscc_type_id, fsch_type_id, numbered, one_to, start_time, value_slot

if TYPE_CHECKING:
    from collections.abc import Iterable

    from relevent.scl.generate.options import GeneratorOptions

_T = TypeVar("_T")


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


def fsch_type(kind: CdcTemplates, options: GeneratorOptions, periodic: bool) -> LNodeTypeDef:
    """Build the schedule LNodeType: state, parameters, value slots, start times (setCal when periodic)."""
    slots = tuple((value_slot(kind, i, options.entries), kind.slot_type) for i in one_to(options.entries))
    time_type = "DERScheduler_TSG_setCal" if periodic else "DERScheduler_TSG_setTm"
    times = tuple((start_time(i, options.start_times), time_type) for i in one_to(options.start_times))
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


def fscc_type(kind: CdcTemplates, options: GeneratorOptions) -> LNodeTypeDef:
    """Build the controller LNodeType: active schedule, value, controlled entity, schedule references."""
    count = options.schedules + 1
    refs = tuple((numbered("Schd", i, count, 2), "DERScheduler_ORG") for i in one_to(count))
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


def ggio_type(output: GgioOutput) -> LNodeTypeDef:
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


def _unique(items: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


def reachable(lnode_types: Iterable[LNodeTypeDef]) -> set[str]:
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
