"""One Modbus TCP connection to one device: bounded reads and writes, FC16 with an FC06 fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

MAX_READ = 125  # registers per FC03 request (the protocol's limit)
ILLEGAL_ADDRESS = 2


class LinkDownError(Exception):
    """The device cannot be reached: not connected, timed out, or an unreadable answer."""


class DeviceRefusedError(Exception):
    """The device answered with a Modbus exception (`code`: 2 illegal address, 3 illegal value, ...)."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what}: Modbus exception {code}")
        self.code = code


class ModbusLink:
    """The gateway's only connection to one device (many devices accept a single master).

    Every request is bounded by `timeout_s`; a failed connection raises `LinkDownError` at once and the caller
    decides when to reconnect (`connect`), so a dead device costs its own worker time only.
    """

    def __init__(
        self, host: str, port: int, unit: int, *, timeout_s: float = 1.0, single_writes: bool = False
    ) -> None:
        self.unit = unit
        self.timeout_s = timeout_s
        self.single_writes = single_writes  # FC06 per register instead of one FC16 per block
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)

    async def connect(self) -> None:
        """Open the connection (closing a broken one first); LinkDownError when it does not answer."""
        self._client.close()
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                connected = await self._client.connect()
        except (TimeoutError, OSError, ModbusException) as exc:
            raise LinkDownError(f"connect: {exc or type(exc).__name__}") from exc
        if not connected:
            raise LinkDownError("connect refused")

    def close(self) -> None:
        """Drop the connection."""
        self._client.close()

    async def read(self, address: int, count: int) -> list[int]:
        """`count` holding registers from `address` (FC03, split into requests the protocol allows)."""
        registers: list[int] = []
        while len(registers) < count:
            start = address + len(registers)
            chunk = min(MAX_READ, count - len(registers))
            answer = await self._call(
                partial(self._client.read_holding_registers, start, count=chunk, device_id=self.unit),
                f"read {start}+{chunk}",
            )
            if len(answer.registers) != chunk:
                raise LinkDownError(f"read {start}+{chunk}: {len(answer.registers)} registers answered")
            registers += answer.registers
        return registers

    async def write(self, address: int, values: list[int]) -> None:
        """Write a block: one FC16, or FC06 per register for devices that refuse FC16 (then for good)."""
        if not self.single_writes:
            try:
                write = partial(self._client.write_registers, address, values, device_id=self.unit)
                await self._call(write, f"write {address}")
            except DeviceRefusedError as refused:
                if refused.code != ILLEGAL_ADDRESS:
                    raise
                self.single_writes = True  # the field quirk: FC16 refused on control registers
            else:
                return
        for index, value in enumerate(values):
            await self._call(
                partial(self._client.write_register, address + index, value, device_id=self.unit),
                f"write {address + index}",
            )

    async def read_coils(self, address: int, count: int) -> list[bool]:
        """`count` coils from `address` (FC01)."""
        read = partial(self._client.read_coils, address, count=count, device_id=self.unit)
        answer = await self._call(read, f"coils {address}+{count}")
        if len(answer.bits) < count:
            raise LinkDownError(f"coils {address}+{count}: {len(answer.bits)} answered")
        return list(answer.bits[:count])

    async def write_coils(self, address: int, values: list[bool]) -> None:
        """Set coils from `address` (FC15)."""
        write = partial(self._client.write_coils, address, values, device_id=self.unit)
        await self._call(write, f"coils {address}")

    async def _call(self, request: Callable[[], Awaitable[ModbusPDU]], what: str) -> ModbusPDU:
        # The request runs as a task of its own: a cancel of the caller (gateway shutdown) then always
        # reaches the caller, where pymodbus might otherwise absorb it inside its transaction.
        try:
            task = asyncio.ensure_future(request())
        except (OSError, ModbusException) as exc:  # pymodbus refuses at once without a connection
            raise LinkDownError(f"{what}: {exc}") from exc
        task.add_done_callback(_consume)
        try:
            await asyncio.wait({task}, timeout=self.timeout_s)
        finally:
            task.cancel()  # a no-op once it is done
        if not task.done() or task.cancelled():
            raise LinkDownError(f"{what}: no answer within {self.timeout_s} s")
        try:
            answer = task.result()
        except (OSError, ModbusException) as exc:
            raise LinkDownError(f"{what}: {exc or type(exc).__name__}") from exc
        if isinstance(answer, ExceptionResponse) or answer.isError():
            raise DeviceRefusedError(int(getattr(answer, "exception_code", 0)), what)
        return answer


def _consume(task: asyncio.Future[ModbusPDU]) -> None:
    """Retrieve an abandoned request's outcome (asyncio would log it as never retrieved)."""
    if not task.cancelled():
        task.exception()
