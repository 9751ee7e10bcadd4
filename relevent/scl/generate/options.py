"""What `relevent-gw scl generate` builds: the options, checked when made."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from relevent.scl.generate.functions import FUNCTIONS
from relevent.scl.generate.names import ld_inst

_IED_NAME = re.compile(r"[A-Za-z][0-9A-Za-z_]*")
_MMS_DOMAIN_MAX: Final = 64  # IED name + LD inst form the MMS domain name


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
