"""The gateway's schedules and controllers as an MMS client finds them, and names for them.

Found by browsing, with the rules of spec section 1: an LN with `SchdSt`, `SchdPrio`, `NumEntr`, `SchdIntv`,
`EnaReq` and `Val<CDC>nnn` DOs is a schedule; one with `ActSchdRef`, `CtlEnt` and `SchdNN` DOs a controller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from relevent.ctl.client import MmsClient
from relevent.ctl.errors import UsageError
from relevent.refs import split_ld, without_ld
from relevent.scheduler.spec import ValueCdc
from relevent.scheduler.values import ValueType

_VALUE_DO = re.compile(r"^Val(ASG|SPG|ING|ENG)(\d{1,4})$")
_START_DO = re.compile(r"^StrTm\d{2}$")
_SCHEDULE_DO = re.compile(r"^Schd\d{2}$")
_Named = TypeVar("_Named", "RemoteSchedule", "RemoteController")
_FSCH_DOS = {"SchdSt", "SchdPrio", "NumEntr", "SchdIntv", "EnaReq"}
_FSCC_DOS = {"ActSchdRef", "CtlEnt"}
_OUTPUT_TYPES = {
    "ValMV": ValueType.FLOAT,
    "ValSPS": ValueType.BOOL,
    "ValINS": ValueType.INT,
    "ValENS": ValueType.INT,
}


@dataclass(frozen=True)
class OutputAddress:
    """Where an FSCH or FSCC publishes its value: data object, its value attribute and its FC."""

    do: str
    da: str

    @property
    def fc(self) -> str:
        """MX for a measured value (ValMV), ST for the status kinds."""
        return "MX" if self.do == "ValMV" else "ST"


@dataclass(frozen=True)
class RemoteSchedule:
    """One FSCH: `ref` is `LD/LN`; value and start-time DO names in slot order."""

    ref: str
    kind: ValueCdc
    value_names: tuple[str, ...]
    start_names: tuple[str, ...]

    @property
    def output(self) -> OutputAddress:
        """The schedule's own output DO."""
        return OutputAddress(*self.kind.output)

    def value_ref(self, slot: int) -> str:
        """The writable leaf of value slot `slot` (0-based)."""
        return f"{self.ref}.{self.value_names[slot]}.{self.kind.value_da}"


@dataclass(frozen=True)
class RemoteController:
    """One FSCC: `ref` is `LD/LN`; `schedule_names` its `SchdNN` DOs in order."""

    ref: str
    schedule_names: tuple[str, ...]
    output: OutputAddress

    @property
    def value_type(self) -> ValueType:
        """The type of the controller's output."""
        return _OUTPUT_TYPES[self.output.do]


@dataclass(frozen=True)
class RemoteModel:
    """Everything relevent-ctl needs to know about the served model."""

    lds: tuple[str, ...]
    schedules: tuple[RemoteSchedule, ...]
    controllers: tuple[RemoteController, ...]

    def schedule(self, name: str) -> RemoteSchedule:
        """The schedule `name` (`ActPow_FSCH01`, `@Control/ActPow_FSCH01` or `LD/ActPow_FSCH01`)."""
        return _pick(name, {s.ref: s for s in self.schedules}, "schedule")

    def controller(self, name: str) -> RemoteController:
        """The controller `name`, in the same forms as `schedule`."""
        return _pick(name, {c.ref: c for c in self.controllers}, "controller")


def _pick(name: str, found: dict[str, _Named], what: str) -> _Named:
    matches = [ref for ref in found if names_ref(name, ref)]
    if len(matches) == 1:
        return found[matches[0]]
    if matches:
        raise UsageError(f"{name!r} names several {what}s: {', '.join(matches)}; give the LD too")
    known = ", ".join(without_ld(ref) for ref in found) or "none"
    raise UsageError(f"no {what} {name!r}; known: {known}")


def names_ref(name: str, ref: str) -> bool:
    """Whether `name` names `ref` (`LD/LN`): the full form, `@<LD inst>/LN`, or the LN alone.

    `@Control` matches an LD whose name ends with `Control`: the LD name is the IED name followed by the
    LD inst, and MMS does not tell the IED name.
    """
    ld, ln = split_ld(ref)
    if name.startswith("@"):
        inst, wanted = split_ld(name[1:])
        return wanted == ln and bool(inst) and ld.endswith(inst)
    return name in (ref, ln)


def browse(client: MmsClient) -> RemoteModel:
    """Find every schedule and controller of every LD (one directory request per LN)."""
    lds = tuple(client.logical_devices())
    schedules: list[RemoteSchedule] = []
    controllers: list[RemoteController] = []
    for ld in lds:
        for ln in client.logical_nodes(ld):
            ref = f"{ld}/{ln}"
            dos = client.data_objects(ref)
            names = set(dos)
            values = sorted((m for do in dos if (m := _VALUE_DO.match(do))), key=lambda m: int(m.group(2)))
            if names >= _FSCH_DOS and values:
                kind = ValueCdc(values[0].group(1))
                starts = tuple(do for do in dos if _START_DO.match(do))
                schedules.append(RemoteSchedule(ref, kind, tuple(m.group(0) for m in values), starts))
            elif names >= _FSCC_DOS and (slots := tuple(do for do in dos if _SCHEDULE_DO.match(do))):
                do = next((do for do in dos if do in _OUTPUT_TYPES), "ValMV")
                controllers.append(
                    RemoteController(ref, slots, OutputAddress(do, "mag.f" if do == "ValMV" else "stVal"))
                )
    return RemoteModel(lds, tuple(schedules), tuple(controllers))
