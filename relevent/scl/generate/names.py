"""Names in the default model: LD insts, numbered DOs and LNs, and the type ids that depend on the options."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relevent.scl.generate.functions import CdcTemplates
    from relevent.scl.generate.options import GeneratorOptions


def ld_inst(device: int) -> str:
    """LD inst of device 1, 2, ...: `Control`, `Control2`, ..."""
    return "Control" if device == 1 else f"Control{device}"


def numbered(stem: str, index: int, count: int, width: int) -> str:
    """`stem` + index, zero-padded to `width` digits or more when `count` needs more (ValASG001, StrTm01)."""
    return f"{stem}{index:0{max(width, len(str(count)))}d}"


def one_to(count: int) -> range:
    """1, 2, ... `count`: the numbering of devices, schedules, slots and start times."""
    return range(1, count + 1)


def value_slot(kind: CdcTemplates, index: int, count: int) -> str:
    """Name of a schedule's value slot, e.g. `ValASG001`."""
    return numbered(f"Val{kind.cdc}", index, count, 3)


def start_time(index: int, count: int) -> str:
    """Name of a schedule's start time, e.g. `StrTm01`."""
    return numbered("StrTm", index, count, 2)


def _counted(base: str, count: int, default: int, unit: str) -> str:
    """Type id `base`, with `_<count><unit>` appended when the count differs from the reference's."""
    return base if count == default else f"{base}_{count}{unit}"


def fsch_type_id(kind: CdcTemplates, options: GeneratorOptions, periodic: bool) -> str:
    """Type id of a schedule, e.g. `DERScheduler_FSCH_ASG_100_nonperiodic`."""
    mode = "periodic" if periodic else "nonperiodic"
    base = f"DERScheduler_FSCH_{kind.cdc}_{options.entries}_{mode}"
    return _counted(base, options.start_times, 16, "StrTm")


def fscc_type_id(kind: CdcTemplates, options: GeneratorOptions) -> str:
    """Type id of a controller, e.g. `DERScheduler_FSCC_APC`."""
    return _counted(f"DERScheduler_FSCC_{kind.fscc_tag}", options.schedules + 1, 11, "Schd")
