"""Registers <-> values: two's complement, float32, scale factors and the "not implemented" sentinels."""

from __future__ import annotations

import math
import struct

from relevent.lan.sunspec.models import WIDTH, Kind, Point

SENTINEL: dict[Kind, int] = {
    "int16": 0x8000, "uint16": 0xFFFF, "enum16": 0xFFFF, "sunssf": 0x8000, "int32": 0x80000000,
    "uint32": 0xFFFFFFFF, "float32": 0x7FC00000,
}  # fmt: skip
SIGNED = {"int16", "sunssf", "int32"}
SF_RANGE = range(-10, 11)  # a scale factor outside this is garbage (an all-zero or corrupt frame)


class OutOfRangeError(ValueError):
    """A value the point's type cannot carry (after scaling)."""


def raw(registers: list[int], offset: int, kind: Kind) -> int | float | None:
    """The unscaled value at `offset` of a model's registers; None for the "not implemented" sentinel."""
    width = WIDTH[kind]
    word = 0
    for register in registers[offset : offset + width]:
        word = (word << 16) | register
    if word == SENTINEL[kind]:
        return None
    if kind == "float32":
        number: float = struct.unpack(">f", word.to_bytes(4, "big"))[0]
        return None if math.isnan(number) else number
    if kind in SIGNED and word >= 1 << (16 * width - 1):
        word -= 1 << (16 * width)
    return word


def value(registers: list[int], points: dict[str, Point], name: str) -> float | None:
    """A point's value in its unit (scale factor applied); None when it or its scale factor is absent."""
    point = points[name]
    number = raw(registers, point.offset, point.kind)
    if number is None or point.sf is None:
        return number
    sf = raw(registers, points[point.sf].offset, "sunssf")
    if sf is None or sf not in SF_RANGE:
        return None
    return number * 10.0 ** int(sf)


def encode(number: float, kind: Kind, sf: int = 0) -> list[int]:
    """The registers carrying `number` (scaled by 10^-sf, rounded); OutOfRangeError when it does not fit."""
    if kind == "float32":
        word = struct.unpack(">I", struct.pack(">f", number))[0]
        return [word >> 16, word & 0xFFFF]
    scaled = round(number / 10.0**sf)
    width = WIDTH[kind]
    bits = 16 * width
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind in SIGNED else (0, (1 << bits) - 1)
    if not low <= scaled <= high or (scaled & ((1 << bits) - 1)) == SENTINEL[kind]:
        raise OutOfRangeError(f"{number} does not fit {kind} with SF {sf}")
    word = scaled & ((1 << bits) - 1)
    return [(word >> (16 * (width - 1 - i))) & 0xFFFF for i in range(width)]
