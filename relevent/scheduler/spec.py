"""The scheduler's view of the SCL model: plain frozen descriptions of schedules, controllers and targets.

Discovery (`relevent.scheduler.discovery`) builds a `ModelSpec` from a parsed SCL file; tests build them by
hand. Every reference here is in the full form (`<IED><LD>/<LN>`), never the `@LD/LN` form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from relevent.scheduler.periodic import CalendarTime
from relevent.scheduler.starts import StartTime
from relevent.scheduler.values import ScheduleValue, ValueType


class ValueCdc(Enum):
    """CDC of a schedule's value DOs, which fixes the value type and the schedule's output DO."""

    ASG = "ASG"
    SPG = "SPG"
    ING = "ING"
    ENG = "ENG"

    @property
    def value_type(self) -> ValueType:
        """The Python type of one value."""
        return _KIND_TYPES[self]

    @property
    def value_da(self) -> str:
        """The leaf DA path of a value DO (`ValASG001.setMag.f`)."""
        return "setMag.f" if self is ValueCdc.ASG else "setVal"

    @property
    def output(self) -> tuple[str, str]:
        """The schedule's output (DO, DA path): `ValMV`/`mag.f`, `ValSPS`/`stVal`, ..."""
        return _KIND_OUTPUTS[self]


_KIND_TYPES = {
    ValueCdc.ASG: ValueType.FLOAT,
    ValueCdc.SPG: ValueType.BOOL,
    ValueCdc.ING: ValueType.INT,
    ValueCdc.ENG: ValueType.INT,
}
_KIND_OUTPUTS = {
    ValueCdc.ASG: ("ValMV", "mag.f"),
    ValueCdc.SPG: ("ValSPS", "stVal"),
    ValueCdc.ING: ("ValINS", "stVal"),
    ValueCdc.ENG: ("ValENS", "stVal"),
}


@dataclass(frozen=True)
class StartTimeSpec:
    """One `StrTmNN` DO: its name and initial value (`initial.cal` is None when the DO has no `setCal`)."""

    name: str
    initial: StartTime = field(default_factory=StartTime)

    @property
    def periodic(self) -> bool:
        """Return whether the DO has a `setCal` (its start times repeat)."""
        return self.initial.cal is not None

    @classmethod
    def one_shot(cls, name: str, set_tm: float = 0.0) -> StartTimeSpec:
        """A start time DO without `setCal`."""
        return cls(name, StartTime(set_tm))

    @classmethod
    def calendar(cls, name: str, set_tm: float = 0.0, cal: CalendarTime | None = None) -> StartTimeSpec:
        """A start time DO with `setCal` (default: hourly at minute 0)."""
        return cls(name, StartTime(set_tm, cal or CalendarTime()))


@dataclass(frozen=True)
class ScheduleSpec:
    """One FSCH logical node with its initial parameters from the SCL.

    `reserve` marks a fallback schedule (spec section 6): enabled at start-up, locked by default. Discovery
    sets it when the LN prefix contains `Res_`, or when the schedule is the last `SchdNN` of a controller and
    has a periodic start time set.
    """

    ref: str
    kind: ValueCdc
    value_names: tuple[str, ...]
    start_times: tuple[StartTimeSpec, ...]
    num_entr: int = 0
    schd_intv: int = 0
    schd_prio: int = 0
    values: tuple[ScheduleValue, ...] = ()
    reuse: bool = False
    intv_unit: float = 1.0
    reserve: bool = False

    def __post_init__(self) -> None:
        if not self.values:
            object.__setattr__(self, "values", (self.kind.value_type.default,) * len(self.value_names))
        if len(self.values) != len(self.value_names):
            raise ValueError(f"{self.ref}: {len(self.values)} values for {len(self.value_names)} slots")
        if self.intv_unit <= 0:
            raise ValueError(f"{self.ref}: SchdIntv unit must be positive")


@dataclass(frozen=True)
class ControllerSpec:
    """One FSCC logical node: its `SchdNN` DOs with initial references, `CtlEnt` and output DO."""

    ref: str
    value_type: ValueType
    schedule_names: tuple[str, ...]
    schedule_refs: tuple[str, ...]
    ctl_ent: str = ""
    output_do: str = "ValMV"
    output_da: str = "mag.f"
    to_si: float = 1.0  # the output's factor to SI units (its `units.multiplier`: kW -> W is 1000)

    def __post_init__(self) -> None:
        if len(self.schedule_refs) != len(self.schedule_names):
            raise ValueError(
                f"{self.ref}: {len(self.schedule_refs)} refs for {len(self.schedule_names)} SchdNN"
            )


@dataclass(frozen=True)
class TargetSpec:
    """A controlled entity `CtlEnt` may name: its data object and the DA written with each output."""

    do_ref: str
    value_ref: str
    value_type: ValueType


# CDC of a controlled DO -> (value DA path, type); spec section 5.
_TARGET_DAS: dict[str, tuple[str, ValueType]] = {
    "APC": ("mxVal.f", ValueType.FLOAT),
    "MV": ("mag.f", ValueType.FLOAT),
    "SPC": ("stVal", ValueType.BOOL),
    "SPS": ("stVal", ValueType.BOOL),
    "INS": ("stVal", ValueType.INT),
    "INC": ("stVal", ValueType.INT),
    "ENS": ("stVal", ValueType.INT),
}


def targets_for_do(do_ref: str, cdc: str) -> dict[str, TargetSpec]:
    """Return the catalogue entries of one controllable DO, keyed by its DO form and its DA form.

    Returns nothing for a CDC that has no scheduler-writable value.
    """
    if cdc not in _TARGET_DAS:
        return {}
    da, value_type = _TARGET_DAS[cdc]
    target = TargetSpec(do_ref, f"{do_ref}.{da}", value_type)
    return {do_ref: target, target.value_ref: target}


@dataclass(frozen=True)
class ModelSpec:
    """Everything the scheduler needs from the SCL description."""

    ied_name: str
    schedules: tuple[ScheduleSpec, ...]
    controllers: tuple[ControllerSpec, ...]
    targets: Mapping[str, TargetSpec] = field(default_factory=dict, hash=False)
