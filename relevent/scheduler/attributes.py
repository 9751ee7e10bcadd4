"""The attribute names of FSCH and FSCC objects: addressing of writes and reads, and attribute listings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from functools import cache

from relevent.refs import split_owner
from relevent.scheduler.commands import Program
from relevent.scheduler.controller import ControllerOutput
from relevent.scheduler.events import AttributeData
from relevent.scheduler.periodic import CALENDAR_FIELDS, CalendarTime
from relevent.scheduler.policy import Lockable
from relevent.scheduler.schedule import ScheduleParams, ScheduleStatus
from relevent.scheduler.spec import ControllerSpec, ScheduleSpec
from relevent.scheduler.starts import StartTime
from relevent.scheduler.values import (
    CoercionError,
    Timestamp,
    ValueType,
    coerce_int32,
    coerce_timestamp,
    coerce_value,
)


@dataclass(frozen=True)
class StatusItem:
    """A status attribute as computed: `value` None keeps the last value; `stamp` None means "now"."""

    ref: str
    value: AttributeData | None
    quality_good: bool
    stamp: Timestamp | None = None


def _status(ref: str, value: AttributeData | None, stamp: Timestamp | None = None) -> StatusItem:
    """A status attribute whose quality is invalid exactly when it has no value."""
    return StatusItem(ref, value, value is not None, stamp)


class Param(Enum):
    """A writable schedule parameter and the policy group that locks it."""

    VALUE = "value"
    NUM_ENTR = "NumEntr"
    SCHD_INTV = "SchdIntv"
    SCHD_PRIO = "SchdPrio"
    SET_TM = "setTm"
    SET_CAL = "setCal"
    REUSE = "SchdReuse"

    @property
    def lockable(self) -> Lockable:
        """The policy group of this parameter."""
        return _LOCKS[self]


_LOCKS = {
    Param.VALUE: Lockable.VALUES,
    Param.NUM_ENTR: Lockable.NUM_ENTR,
    Param.SCHD_INTV: Lockable.SCHD_INTV,
    Param.SCHD_PRIO: Lockable.SCHD_PRIO,
    Param.SET_TM: Lockable.STR_TM,
    Param.SET_CAL: Lockable.STR_TM,
    Param.REUSE: Lockable.SCHD_REUSE,
}


@dataclass(frozen=True)
class ParamAddress:
    """A writable schedule DA: the parameter, its value or start-time slot, and a single `setCal` member."""

    param: Param
    index: int = 0
    cal_member: str | None = None


def apply_write(
    spec: ScheduleSpec, params: ScheduleParams, address: ParamAddress, raw: object
) -> ScheduleParams:
    """Return `params` with one written DA; raise `CoercionError` on a wrong type or range."""
    match address.param:
        case Param.VALUE:
            values = list(params.values)
            values[address.index] = coerce_value(spec.kind.value_type, raw)
            return replace(params, values=tuple(values))
        case Param.SET_TM | Param.SET_CAL:
            start = params.starts[address.index]
            if address.param is Param.SET_TM:
                return params.with_start(address.index, StartTime(coerce_timestamp(raw), start.cal))
            return params.with_start(
                address.index, StartTime(start.set_tm, _written_calendar(start, address, raw))
            )
        case Param.REUSE:
            return replace(params, reuse=bool(coerce_value(ValueType.BOOL, raw)))
        case _:
            number = coerce_int32(raw)
            return replace(
                params,
                num_entr=number if address.param is Param.NUM_ENTR else params.num_entr,
                schd_intv=number if address.param is Param.SCHD_INTV else params.schd_intv,
                schd_prio=number if address.param is Param.SCHD_PRIO else params.schd_prio,
            )


def apply_program(spec: ScheduleSpec, params: ScheduleParams, program: Program) -> ScheduleParams:
    """Return `params` with a whole program written; raise `CoercionError` on a wrong type or range."""
    if not 1 <= len(program.values) <= len(params.values):
        raise CoercionError(
            f"{len(program.values)} values for {len(params.values)} value slots", type_conflict=False
        )
    values = tuple(coerce_value(spec.kind.value_type, v) for v in program.values)
    first, *others = params.starts
    return replace(
        params,
        values=values + params.values[len(values) :],
        num_entr=len(values),
        schd_intv=coerce_int32(program.schd_intv),
        schd_prio=coerce_int32(program.schd_prio),
        starts=(StartTime(coerce_timestamp(program.start), first.cal), *(o.cleared() for o in others)),
    )


def _written_calendar(start: StartTime, address: ParamAddress, raw: object) -> CalendarTime:
    if address.cal_member is None:
        if not isinstance(raw, CalendarTime):
            raise CoercionError(f"expected a CalendarTime, got {raw!r}", type_conflict=True)
        return raw
    member, largest = CALENDAR_FIELDS[address.cal_member]
    value = coerce_int32(raw)
    if not 0 <= value <= largest:
        raise CoercionError(f"setCal.{address.cal_member} {value} is out of range", type_conflict=False)
    assert start.cal is not None  # only periodic start times have setCal addresses
    return replace(start.cal, **{member: value})


@dataclass(frozen=True, slots=True)
class _Shape:
    """The attribute paths (relative to the FSCH) of every schedule with the same DOs, shared by them."""

    value_paths: tuple[str, ...]
    set_tm_paths: tuple[str, ...]
    set_cal_paths: tuple[str, ...]
    addresses: dict[str, ParamAddress]


@cache
def _shape(value_da: str, value_names: tuple[str, ...], starts: tuple[tuple[str, bool], ...]) -> _Shape:
    """The paths of an FSCH with these value DOs and (start-time DO, periodic) pairs."""
    value_paths = tuple(f"{name}.{value_da}" for name in value_names)
    set_tm_paths = tuple(f"{name}.setTm" for name, _ in starts)
    set_cal_paths = tuple(f"{name}.setCal" for name, _ in starts)
    table = {path: ParamAddress(Param.VALUE, i) for i, path in enumerate(value_paths)}
    for param in (Param.NUM_ENTR, Param.SCHD_INTV, Param.SCHD_PRIO, Param.REUSE):
        table[f"{param.value}.setVal"] = ParamAddress(param)
    for i, (_, periodic) in enumerate(starts):
        table[set_tm_paths[i]] = ParamAddress(Param.SET_TM, i)
        if periodic:
            table[set_cal_paths[i]] = ParamAddress(Param.SET_CAL, i)
            for member in CALENDAR_FIELDS:
                table[f"{set_cal_paths[i]}.{member}"] = ParamAddress(Param.SET_CAL, i, member)
    return _Shape(value_paths, set_tm_paths, set_cal_paths, table)


class ScheduleAttributes:
    """Names of one FSCH's attributes; the per-parameter ones are shared by every schedule of its shape."""

    def __init__(self, spec: ScheduleSpec) -> None:
        self.spec = spec
        ref = spec.ref
        self._prefix = f"{ref}."
        starts = tuple((st.name, st.periodic) for st in spec.start_times)
        self._shape = _shape(spec.kind.value_da, spec.value_names, starts)
        output_do, output_da = spec.kind.output
        self.output_ref = f"{ref}.{output_do}.{output_da}"
        self.status_refs = (
            f"{ref}.SchdSt.stVal",
            f"{ref}.SchdEntr.stVal",
            self.output_ref,
            f"{ref}.ActStrTm.stVal",
            f"{ref}.NxtStrTm.stVal",
            f"{ref}.SchdEnaErr.stVal",
        )

    def address(self, ref: str) -> ParamAddress | None:
        """Return the writable parameter named by a full DA reference, or None."""
        owner, path = split_owner(ref)
        return self._shape.addresses.get(path) if owner == self.spec.ref else None

    def is_status(self, ref: str) -> bool:
        """Return whether `ref` is a read-only status attribute."""
        return ref in self.status_refs

    def parameters(self, params: ScheduleParams) -> dict[str, AttributeData]:
        """All writable attributes with their current values (`setCal` as a whole struct)."""
        prefix, shape = self._prefix, self._shape
        listing: dict[str, AttributeData] = {
            prefix + path: value for path, value in zip(shape.value_paths, params.values, strict=True)
        }
        listing[f"{prefix}NumEntr.setVal"] = params.num_entr
        listing[f"{prefix}SchdIntv.setVal"] = params.schd_intv
        listing[f"{prefix}SchdPrio.setVal"] = params.schd_prio
        listing[f"{prefix}SchdReuse.setVal"] = params.reuse
        paths = zip(shape.set_tm_paths, shape.set_cal_paths, params.starts, strict=True)
        for tm_path, cal_path, start in paths:
            listing[prefix + tm_path] = start.set_tm
            if start.cal is not None:
                listing[prefix + cal_path] = start.cal
        return listing

    def status(self, status: ScheduleStatus) -> list[StatusItem]:
        """The status attributes; the output carries the nominal time of its entry boundary."""
        sched_st, entr, output, act, nxt, ena_err = self.status_refs
        return [
            _status(sched_st, int(status.state)),
            _status(entr, status.entry),
            _status(output, status.value, status.value_time),
            _status(act, status.act_start),
            _status(nxt, status.next_start),
            _status(ena_err, int(status.ena_err)),
        ]

    def defaults(self) -> dict[str, AttributeData]:
        """The value each status attribute shows before it was ever valid."""
        return dict(
            zip(self.status_refs, (1, 0, self.spec.kind.value_type.default, 0.0, 0.0, 1), strict=True)
        )


class ControllerAttributes:
    """Names of one FSCC's attributes, computed once from its spec."""

    def __init__(self, spec: ControllerSpec) -> None:
        self.spec = spec
        ref = spec.ref
        self.ctl_ent_ref = f"{ref}.CtlEnt.setSrcRef"
        self.schedule_slot_refs = tuple(f"{ref}.{name}.setSrcRef" for name in spec.schedule_names)
        self.active_ref = f"{ref}.ActSchdRef.stVal"
        self.output_ref = f"{ref}.{spec.output_do}.{spec.output_da}"

    def slot_of(self, ref: str) -> int | None:
        """Return the `SchdNN` position a full DA reference names, or None."""
        try:
            return self.schedule_slot_refs.index(ref)
        except ValueError:
            return None

    def is_status(self, ref: str) -> bool:
        """Return whether `ref` is a read-only status attribute."""
        return ref in (self.active_ref, self.output_ref)

    def parameters(self, schedule_refs: tuple[str, ...], ctl_ent: str) -> dict[str, AttributeData]:
        """The writable references with their current values."""
        listing: dict[str, AttributeData] = dict(zip(self.schedule_slot_refs, schedule_refs, strict=True))
        listing[self.ctl_ent_ref] = ctl_ent
        return listing

    def status(self, output: ControllerOutput) -> list[StatusItem]:
        """`ActSchdRef` and the output; when nothing runs `ActSchdRef` is "" and both are invalid."""
        return [
            StatusItem(self.active_ref, output.source or "", output.source is not None),
            _status(self.output_ref, output.value),
        ]

    def defaults(self) -> dict[str, AttributeData]:
        """The value each status attribute shows before it was ever valid."""
        return {self.active_ref: "", self.output_ref: self.spec.value_type.default}
