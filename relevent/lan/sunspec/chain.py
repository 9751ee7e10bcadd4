"""Discovery: find the "SunS" marker and walk the model chain into (model id, instance) -> registers."""

from __future__ import annotations

from dataclasses import dataclass

from relevent.lan.modbus.link import DeviceRefusedError, LinkDownError, ModbusLink
from relevent.lan.sunspec.models import BASES, END_ID, MARKER

MAX_MODELS = 200  # a chain longer than this is a corrupt one


@dataclass
class SunSpecModel:
    """One model instance: its ID register's address, its length L and its registers (ID and L too)."""

    mid: int
    address: int
    length: int
    registers: list[int]


async def find_base(link: ModbusLink, base: int | None) -> int:
    """The marker's register: the configured one, else the first of 40000, 0, 50000 that carries it."""
    for candidate in (base,) if base is not None else BASES:
        try:
            if tuple(await link.read(candidate, 2)) == MARKER:
                return candidate
        except DeviceRefusedError:
            continue
    raise LinkDownError(
        "no SunSpec marker at " + ", ".join(str(b) for b in ((base,) if base is not None else BASES))
    )


async def scan(link: ModbusLink, base: int | None) -> dict[tuple[int, int], SunSpecModel]:
    """Every model of the chain with its registers, keyed by (model id, instance index)."""
    address = await find_base(link, base) + 2
    models: dict[tuple[int, int], SunSpecModel] = {}
    for _ in range(MAX_MODELS):
        (mid,) = await link.read(address, 1)
        if mid == END_ID:
            return models
        (length,) = await link.read(address + 1, 1)  # read apart: some devices omit the end model's L
        registers = await link.read(address, length + 2)
        instance = sum(1 for key in models if key[0] == mid)
        models[(mid, instance)] = SunSpecModel(mid, address, length, registers)
        address += length + 2
    raise LinkDownError(f"SunSpec chain longer than {MAX_MODELS} models")
