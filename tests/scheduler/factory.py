"""ModelSpecs for scheduler tests: one mirroring the reference model, and small ad-hoc ones."""

from __future__ import annotations

from datetime import UTC, datetime

from relevent.scheduler.periodic import CalendarTime, Period
from relevent.scheduler.spec import (
    ControllerSpec,
    ModelSpec,
    ScheduleSpec,
    StartTimeSpec,
    TargetSpec,
    ValueCdc,
    targets_for_do,
)
from relevent.scheduler.values import ValueType

IED = "DER_Scheduler_"
LD = f"{IED}Control"
# 2024-01-01T00:00:00Z, a Monday: every test starts here unless it says otherwise.
BASE = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
RESERVE_SET_TM = datetime(2020, 1, 1, tzinfo=UTC).timestamp()


def ln(name: str) -> str:
    """The full reference of a logical node of the reference LD."""
    return f"{LD}/{name}"


def schedule_spec(
    name: str,
    *,
    kind: ValueCdc = ValueCdc.ASG,
    slots: int = 10,
    starts: int = 4,
    periodic: bool = False,
    num_entr: int = 0,
    schd_intv: int = 0,
    schd_prio: int = 0,
    values: tuple[float | bool | int, ...] = (),
    reuse: bool = False,
    reserve: bool = False,
    intv_unit: float = 1.0,
    initial_starts: tuple[StartTimeSpec, ...] = (),
) -> ScheduleSpec:
    """An FSCH with `slots` value DOs and `starts` start-time DOs (one-shot, or with setCal)."""
    prefix = "Val" + kind.value
    width = 3 if slots < 1000 else 4
    start_specs = list(initial_starts)
    for i in range(len(start_specs), starts):
        start_name = f"StrTm{i + 1:02d}"
        start_specs.append(
            StartTimeSpec.calendar(start_name) if periodic else StartTimeSpec.one_shot(start_name)
        )
    if values and len(values) < slots:
        values = values + (kind.value_type.default,) * (slots - len(values))
    return ScheduleSpec(
        ref=ln(name),
        kind=kind,
        value_names=tuple(f"{prefix}{i:0{width}d}" for i in range(1, slots + 1)),
        start_times=tuple(start_specs),
        num_entr=num_entr,
        schd_intv=schd_intv,
        schd_prio=schd_prio,
        values=values,
        reuse=reuse,
        reserve=reserve,
        intv_unit=intv_unit,
    )


def reserve_spec(name: str, *, kind: ValueCdc = ValueCdc.ASG, value: float | bool = 0.0) -> ScheduleSpec:
    """A reserve FSCH as in the reference model: hourly, one entry of 3600 s, priority 0, reused."""
    hourly = StartTimeSpec.calendar("StrTm01", RESERVE_SET_TM, CalendarTime(occ_per=Period.HOUR))
    return schedule_spec(
        name,
        kind=kind,
        slots=100,
        starts=16,
        periodic=True,
        num_entr=1,
        schd_intv=3600,
        values=(value,),
        reuse=True,
        reserve=True,
        initial_starts=(hourly,),
    )


def controller_spec(
    name: str, schedules: list[ScheduleSpec], *, ctl_ent: str = "", value_type: ValueType = ValueType.FLOAT
) -> ControllerSpec:
    """An FSCC listing `schedules` as Schd01..; a bool controller outputs ValSPS."""
    output = ("ValMV", "mag.f") if value_type is ValueType.FLOAT else ("ValSPS", "stVal")
    return ControllerSpec(
        ref=ln(name),
        value_type=value_type,
        schedule_names=tuple(f"Schd{i:02d}" for i in range(1, len(schedules) + 1)),
        schedule_refs=tuple(s.ref for s in schedules),
        ctl_ent=ctl_ent,
        output_do=output[0],
        output_da=output[1],
    )


def ggio_targets() -> dict[str, TargetSpec]:
    """The GGIO outputs of the reference model (both reference forms), and an MV output."""
    return {
        **targets_for_do(ln("ActPow_GGIO1.AnOut1"), "APC"),
        **targets_for_do(ln("MaxPow_GGIO1.AnOut1"), "APC"),
        **targets_for_do(ln("OnOff_GGIO1.SPCSO1"), "SPC"),
        **targets_for_do(ln("Aux_GGIO1.AnOut2"), "MV"),
    }


def reference_like_spec() -> ModelSpec:
    """The reference model: 3 controllers x (10 schedules + 1 reserve), 100 values, 16 start times."""
    schedules: list[ScheduleSpec] = []
    controllers: list[ControllerSpec] = []
    for function, kind, target in (
        ("ActPow_", ValueCdc.ASG, "ActPow_GGIO1.AnOut1.mxVal.f"),
        ("MaxPow_", ValueCdc.ASG, "MaxPow_GGIO1.AnOut1.mxVal.f"),
        ("OnOff_", ValueCdc.SPG, "OnOff_GGIO1.SPCSO1.stVal"),
    ):
        own = [
            schedule_spec(f"{function}FSCH{i:02d}", kind=kind, slots=100, starts=16, num_entr=100)
            for i in range(1, 11)
        ]
        reserve_value: float | bool = False if kind is ValueCdc.SPG else 0.0
        own.append(reserve_spec(f"{function}Res_FSCH01", kind=kind, value=reserve_value))
        schedules += own
        controllers.append(
            controller_spec(f"{function}FSCC1", own, ctl_ent=ln(target), value_type=kind.value_type)
        )
    return ModelSpec(IED, tuple(schedules), tuple(controllers), ggio_targets())


def small_spec(
    count: int = 3,
    *,
    slots: int = 10,
    starts: int = 4,
    kind: ValueCdc = ValueCdc.ASG,
    reserve: bool = False,
    ctl_ent: str = "",
    periodic: bool = False,
    intv_unit: float = 1.0,
) -> ModelSpec:
    """`count` open schedules F_FSCH01.. on one controller F_FSCC1, optionally followed by a reserve.

    `periodic` gives their start times a `setCal` (hourly at minute 0 until written); `intv_unit` is the
    SchdIntv unit in seconds.
    """
    schedules = [
        schedule_spec(
            f"F_FSCH{i:02d}", kind=kind, slots=slots, starts=starts, periodic=periodic, intv_unit=intv_unit
        )
        for i in range(1, count + 1)
    ]
    if reserve:
        schedules.append(
            reserve_spec("F_Res_FSCH01", kind=kind, value=False if kind is ValueCdc.SPG else 0.0)
        )
    controller = controller_spec("F_FSCC1", schedules, ctl_ent=ctl_ent, value_type=kind.value_type)
    return ModelSpec(IED, tuple(schedules), (controller,), ggio_targets())
