"""The SunSpec points the driver uses, per model: offsets counted from the model's ID register.

Offsets and types follow the SunSpec model definitions (the pysunspec2 convention); the model lengths are
those of the definitions, used by the simulator (the driver takes every length from the device's chain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["int16", "uint16", "enum16", "int32", "uint32", "sunssf", "float32"]

MARKER = (0x5375, 0x6E53)  # "SunS"
END_ID = 0xFFFF
BASES = (40000, 0, 50000)  # where the marker may sit, probed in this order
WIDTH: dict[Kind, int] = {
    "int16": 1, "uint16": 1, "enum16": 1, "sunssf": 1, "int32": 2, "uint32": 2, "float32": 2,
}  # fmt: skip


@dataclass(frozen=True)
class Point:
    """One point: its offset from the model's ID register, its type and the name of its scale factor."""

    offset: int
    kind: Kind
    sf: str | None = None


def _p(offset: int, kind: Kind, sf: str | None = None) -> Point:
    return Point(offset, kind, sf)


COMMON, INVERTER_INT, INVERTER_FLOAT, NAMEPLATE, SETTINGS, CONTROLS = 1, 103, 113, 120, 121, 123
DER_MEASURE, DER_CAPACITY, DER_ENTER_SERVICE, DER_CONTROLS = 701, 702, 703, 704
DER_CTL = 715  # DER control: OpCtl (0 STOP, 1 START, 2 ENTER_STANDBY, 3 EXIT_STANDBY), heartbeats

LENGTHS = {1: 66, 103: 50, 113: 60, 120: 26, 121: 30, 123: 24, 701: 153, 702: 50, 703: 17, 704: 65, 715: 7}

POINTS: dict[int, dict[str, Point]] = {
    INVERTER_INT: {"W": _p(14, "int16", "W_SF"), "W_SF": _p(15, "sunssf"), "St": _p(38, "enum16")},
    INVERTER_FLOAT: {"W": _p(22, "float32"), "St": _p(48, "enum16")},
    NAMEPLATE: {"WRtg": _p(3, "uint16", "WRtg_SF"), "WRtg_SF": _p(4, "sunssf")},
    SETTINGS: {"WMax": _p(2, "uint16", "WMax_SF"), "WMax_SF": _p(22, "sunssf")},
    CONTROLS: {
        "Conn_WinTms": _p(2, "uint16"), "Conn_RvrtTms": _p(3, "uint16"), "Conn": _p(4, "enum16"),
        "WMaxLimPct": _p(5, "uint16", "WMaxLimPct_SF"), "WMaxLimPct_WinTms": _p(6, "uint16"),
        "WMaxLimPct_RvrtTms": _p(7, "uint16"), "WMaxLimPct_RmpTms": _p(8, "uint16"),
        "WMaxLim_Ena": _p(9, "enum16"), "WMaxLimPct_SF": _p(23, "sunssf"),
    },
    DER_MEASURE: {
        "InvSt": _p(4, "enum16"), "ConnSt": _p(5, "enum16"), "W": _p(10, "int16", "W_SF"),
        "W_SF": _p(116, "sunssf"),
    },
    DER_CAPACITY: {
        "WMaxRtg": _p(2, "uint16", "W_SF"), "WMax": _p(26, "uint16", "W_SF"), "W_SF": _p(45, "sunssf"),
    },
    DER_ENTER_SERVICE: {"ES": _p(2, "enum16")},
    DER_CTL: {"OpCtl": _p(8, "enum16")},
    DER_CONTROLS: {
        "WMaxLimPctEna": _p(14, "enum16"), "WMaxLimPct": _p(15, "uint16", "WMaxLimPct_SF"),
        "WMaxLimPctRvrt": _p(16, "uint16", "WMaxLimPct_SF"), "WMaxLimPctEnaRvrt": _p(17, "enum16"),
        "WMaxLimPctRvrtTms": _p(18, "uint32"), "WMaxLimPctRvrtRem": _p(20, "uint32"),
        "WSetEna": _p(22, "enum16"), "WSetMod": _p(23, "enum16"), "WSet": _p(24, "int32", "WSet_SF"),
        "WSetRvrt": _p(26, "int32", "WSet_SF"), "WSetPct": _p(28, "int16", "WSetPct_SF"),
        "WSetPctRvrt": _p(29, "int16", "WSetPct_SF"), "WSetEnaRvrt": _p(30, "enum16"),
        "WSetRvrtTms": _p(31, "uint32"), "WSetRvrtRem": _p(33, "uint32"),
        "WMaxLimPct_SF": _p(54, "sunssf"), "WSet_SF": _p(55, "sunssf"), "WSetPct_SF": _p(56, "sunssf"),
    },
}  # fmt: skip
