"""Build the scheduler's `ModelSpec` from a parsed SCL description (spec section 1).

- A schedule is any FSCH with `SchdSt`, `SchdPrio`, `NumEntr`, `SchdIntv`, `EnaReq` and value DOs
  `Val<CDC><1-4 digits>` (CDC ASG, SPG, ING or ENG); its start times are its `StrTmNN` DOs, periodic when
  the DO type has `setCal`.
- A controller is any FSCC with `ActSchdRef`, `CtlEnt` and `SchdNN` DOs; its output is `ValMV`, `ValSPS`,
  `ValINS` or `ValENS`.
- A reserve schedule's LN prefix contains `Res_`, or it is the last `SchdNN` of a controller and has a
  periodic start time set.
- Controllable entities (`CtlEnt` targets) are the APC, MV, SPC, SPS, INS, INC and ENS data objects of every
  output logical node: not FSCH, FSCC, LLN0, LPHD, not the input groups of IEC 61850-7-4 (M measurement
  and metering, S supervision and monitoring, T instrument transformers and sensors), not `Beh`. A
  controller writing into a measurement (`MMXU1.TotW`) would overwrite what SCADA reads as measured.
"""

from __future__ import annotations

import re
from datetime import datetime

from relevent.errors import SclError
from relevent.refs import full_ref
from relevent.scheduler.periodic import CALENDAR_FIELDS, CalendarTime
from relevent.scheduler.spec import (
    ControllerSpec,
    ModelSpec,
    ScheduleSpec,
    StartTimeSpec,
    TargetSpec,
    ValueCdc,
    targets_for_do,
)
from relevent.scheduler.starts import StartTime
from relevent.scheduler.values import ScheduleValue, ValueType
from relevent.scl.model import IED, LogicalNode, SclDocument, Value
from relevent.scl.units import si_factor

_VALUE_DO = re.compile(r"^Val(ASG|SPG|ING|ENG)(\d{1,4})$")
_START_DO = re.compile(r"^StrTm\d{2}$")
_SCHEDULE_DO = re.compile(r"^Schd\d{2}$")
_FSCH_REQUIRED = {"SchdSt", "SchdPrio", "NumEntr", "SchdIntv", "EnaReq"}
_FSCC_REQUIRED = {"ActSchdRef", "CtlEnt"}
_FSCC_OUTPUTS = {
    "ValMV": ("mag.f", ValueType.FLOAT),
    "ValSPS": ("stVal", ValueType.BOOL),
    "ValINS": ("stVal", ValueType.INT),
    "ValENS": ("stVal", ValueType.INT),
}
# SIUnit ordinal -> seconds (spec section 2: 4 = s, 85 = min, 84 = h).
_UNIT_SECONDS = {4: 1.0, 85: 60.0, 84: 3600.0}
_NOT_TARGETS = {"FSCH", "FSCC", "LLN0", "LPHD"}
_INPUT_GROUPS = ("M", "S", "T")  # LN class initials of measurement and sensor LNs (IEC 61850-7-4)


def model_spec(document: SclDocument, ied_name: str | None = None) -> ModelSpec:
    """Describe the schedules, controllers and controllable entities of one IED (the first by default)."""
    ied = document.ied(ied_name)
    nodes = [(f"{ld.name}/{ln.name}", ln) for ld in ied.ldevices for ln in ld.lns]
    controllers = [_controller(ref, ln, ied) for ref, ln in nodes if _is_controller(ln)]
    last_refs = {c.schedule_refs[-1] for c in controllers if c.schedule_refs}
    schedules = [_schedule(ref, ln, ref in last_refs, document.path) for ref, ln in nodes if _is_schedule(ln)]
    targets: dict[str, TargetSpec] = {}
    for ref, ln in nodes:
        if ln.ln_class not in _NOT_TARGETS and not ln.ln_class.startswith(_INPUT_GROUPS):
            for do in ln.type.data_objects:
                if do.name != "Beh":
                    targets.update(targets_for_do(f"{ref}.{do.name}", do.type.cdc))
    return ModelSpec(ied.name, tuple(schedules), tuple(controllers), targets)


def _do_names(ln: LogicalNode) -> set[str]:
    return {do.name for do in ln.type.data_objects}


def _is_schedule(ln: LogicalNode) -> bool:
    names = _do_names(ln)
    return ln.ln_class == "FSCH" and names >= _FSCH_REQUIRED and any(_VALUE_DO.match(n) for n in names)


def _is_controller(ln: LogicalNode) -> bool:
    names = _do_names(ln)
    return ln.ln_class == "FSCC" and names >= _FSCC_REQUIRED and any(_SCHEDULE_DO.match(n) for n in names)


def _schedule(ref: str, ln: LogicalNode, last_of_a_controller: bool, path: str) -> ScheduleSpec:
    matches = [m for do in ln.type.data_objects if (m := _VALUE_DO.match(do.name))]
    kinds = {m.group(1) for m in matches}
    if len(kinds) != 1:
        raise SclError(f"{ref}: value DOs of several kinds {sorted(kinds)}", path=path, line=ln.line)
    kind = ValueCdc(kinds.pop())
    value_names = tuple(m.group(0) for m in sorted(matches, key=lambda m: int(m.group(2))))
    starts = tuple(
        _start_time(ln, do.name, periodic=do.type.child("setCal") is not None)
        for do in ln.type.data_objects
        if _START_DO.match(do.name)
    )
    default = kind.value_type.default
    values = tuple(_typed(ln.initial(f"{name}.{kind.value_da}"), default) for name in value_names)
    reserve = "Res_" in ln.prefix or (
        last_of_a_controller and any(s.periodic and s.initial.is_set for s in starts)
    )
    return ScheduleSpec(
        ref=ref,
        kind=kind,
        value_names=value_names,
        start_times=starts,
        num_entr=_int(ln.initial("NumEntr.setVal")),
        schd_intv=_int(ln.initial("SchdIntv.setVal")),
        schd_prio=_int(ln.initial("SchdPrio.setVal")),
        values=values,
        reuse=ln.initial("SchdReuse.setVal") is True,
        intv_unit=_intv_unit(ln),
        reserve=reserve,
    )


def _start_time(ln: LogicalNode, name: str, *, periodic: bool) -> StartTimeSpec:
    set_tm = ln.initial(f"{name}.setTm")
    seconds = set_tm.timestamp() if isinstance(set_tm, datetime) else 0.0
    if not periodic:
        return StartTimeSpec(name, StartTime(seconds))
    members = {
        field: _int(ln.initial(f"{name}.setCal.{member}")) for member, (field, _) in CALENDAR_FIELDS.items()
    }
    return StartTimeSpec(name, StartTime(seconds, CalendarTime(**members)))


def _intv_unit(ln: LogicalNode) -> float:
    unit = _UNIT_SECONDS.get(_int(ln.initial("SchdIntv.units.SIUnit")) or 4, 1.0)
    return unit * 10.0 ** _int(ln.initial("SchdIntv.units.multiplier"))


def _controller(ref: str, ln: LogicalNode, ied: IED) -> ControllerSpec:
    names = [do.name for do in ln.type.data_objects if _SCHEDULE_DO.match(do.name)]
    output_do = next((do.name for do in ln.type.data_objects if do.name in _FSCC_OUTPUTS), "ValMV")
    output_da, value_type = _FSCC_OUTPUTS[output_do]
    return ControllerSpec(
        ref=ref,
        value_type=value_type,
        schedule_names=tuple(names),
        schedule_refs=tuple(_reference(ln, f"{name}.setSrcRef", ied) for name in names),
        ctl_ent=_reference(ln, "CtlEnt.setSrcRef", ied),
        output_do=output_do,
        output_da=output_da,
        to_si=si_factor(ln, output_do),
    )


def _reference(ln: LogicalNode, path: str, ied: IED) -> str:
    value = ln.initial(path)
    return full_ref(value, ied.name) if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _typed(value: Value | None, default: ScheduleValue) -> ScheduleValue:
    """An initial value of a value slot converted to the slot's type; a missing one is the type's default."""
    if value is None or isinstance(value, str | datetime):
        return default
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, float):
        return float(value)
    return int(value)
