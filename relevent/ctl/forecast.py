"""`forecast`: a controller's coming output, computed by the scheduler core from parameters read over MMS.

The MMS model has no forecast object; rather than re-implementing the rules here, the parameters are
read back into scheduler specs and `relevent.scheduler.forecast.forecast_from_specs` runs them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relevent.ctl.client import MmsClient
from relevent.ctl.model import RemoteController, RemoteModel, RemoteSchedule, names_ref
from relevent.ctl.readings import reading
from relevent.scheduler.forecast import ForecastPoint, forecast_from_specs
from relevent.scheduler.periodic import CALENDAR_FIELDS, CalendarTime
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.spec import ControllerSpec, ScheduleSpec, StartTimeSpec
from relevent.scheduler.starts import StartTime
from relevent.scheduler.values import NOT_SET, ScheduleValue, Timestamp

# SchdIntv.units.SIUnit -> seconds (spec section 2: 4 = s, 85 = min, 84 = h).
_UNIT_SECONDS = {4: 1.0, 85: 60.0, 84: 3600.0}


def forecast(
    client: MmsClient, model: RemoteModel, controller: RemoteController, now: Timestamp, until: Timestamp
) -> list[ForecastPoint]:
    """The output of `controller` over [now, until] if nothing is written meanwhile (equal values merged)."""
    settings = client.read_tree(controller.ref, "SP")
    refs = tuple(
        _schedule_ref(model, settings.get(name, {}).get("setSrcRef")) for name in controller.schedule_names
    )
    specs = []
    enabled = set()
    for ref in dict.fromkeys(r for r in refs if r):
        schedule = model.schedule(ref)
        specs.append(_schedule_spec(client, schedule))
        if reading(client.read_tree(ref, "ST").get("SchdSt", {})).value in (SchdSt.READY, SchdSt.RUNNING):
            enabled.add(ref)
    spec = ControllerSpec(
        ref=controller.ref,
        value_type=controller.value_type,
        schedule_names=controller.schedule_names,
        schedule_refs=refs,
        output_do=controller.output.do,
        output_da=controller.output.da,
    )
    return forecast_from_specs(spec, specs, enabled, now, until)


def _schedule_ref(model: RemoteModel, listed: object) -> str:
    """A `SchdNN.setSrcRef` as the `LD/LN` of a known schedule ("" for an empty or unknown one)."""
    if not isinstance(listed, str) or not listed:
        return ""
    return next((s.ref for s in model.schedules if names_ref(listed, s.ref)), "")


def _schedule_spec(client: MmsClient, schedule: RemoteSchedule) -> ScheduleSpec:
    """The schedule's parameters as read now, as the initial values of a spec."""
    settings = client.read_tree(schedule.ref, "SP")
    units = client.read_tree(schedule.ref, "CF").get("SchdIntv", {}).get("units", {})

    def setting(do: str) -> int:
        value = settings.get(do, {}).get("setVal")
        return value if isinstance(value, int) else 0

    kind = schedule.kind
    values = tuple(
        _value(_leaf(settings.get(name, {}), kind.value_da), kind.value_type.default)
        for name in schedule.value_names
    )
    return ScheduleSpec(
        ref=schedule.ref,
        kind=kind,
        value_names=schedule.value_names,
        start_times=tuple(_start_time(name, settings.get(name, {})) for name in schedule.start_names),
        num_entr=setting("NumEntr"),
        schd_intv=setting("SchdIntv"),
        schd_prio=setting("SchdPrio"),
        values=values,
        reuse=settings.get("SchdReuse", {}).get("setVal") is True,
        intv_unit=_intv_unit(units),
    )


def _leaf(tree: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`setMag.f`) of a read tree, or None."""
    node: Any = tree
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _value(read: object, default: ScheduleValue) -> ScheduleValue:
    if isinstance(default, bool):
        return read is True
    if isinstance(read, int | float) and not isinstance(read, bool):
        return type(default)(read)
    return default


def _start_time(name: str, tree: dict[str, Any]) -> StartTimeSpec:
    set_tm = tree.get("setTm")
    seconds = set_tm.timestamp() if isinstance(set_tm, datetime) else NOT_SET
    cal = tree.get("setCal")
    if not isinstance(cal, dict):
        return StartTimeSpec(name, StartTime(seconds))
    members = {
        field: v for member, (field, _) in CALENDAR_FIELDS.items() if isinstance(v := cal.get(member), int)
    }
    return StartTimeSpec(name, StartTime(seconds, CalendarTime(**members)))


def _intv_unit(units: dict[str, Any]) -> float:
    """Seconds per `SchdIntv` unit, from its optional `units` (CF)."""
    si_unit, multiplier = units.get("SIUnit"), units.get("multiplier")
    unit = _UNIT_SECONDS.get(si_unit if isinstance(si_unit, int) else 4, 1.0)
    return unit * 10.0 ** (multiplier if isinstance(multiplier, int) else 0)
