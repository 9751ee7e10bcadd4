"""A thin pymodbus TCP server around a simulator's own register list (the simulators' common part).

The simulator keeps the truth in `registers` (address -> value) and decides every request in `handle`:
it may change registers, or refuse with a Modbus exception code. Each request pulses `activity`, which tests
and benches wait on instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


class RequestHandler(Protocol):
    """Decides a request: None to serve it (after updating `registers`), else an exception code."""

    def __call__(
        self, function_code: int, address: int, count: int, values: list[int] | None
    ) -> ExcCodes | None:
        """`values`: the registers (or coils, as 0/1) to write; None for a read."""
        ...


class RegisterServer:
    """Serves `registers` from register `start` on (holding registers; coils are bits of the same words)."""

    def __init__(
        self, start: int, registers: list[int], handler: RequestHandler, unit: int = 0, *, coils: bool = False
    ) -> None:
        self.first = start
        self._coils = coils  # coil n is bit n % 16 of register n // 16
        self.registers = registers
        self._handler = handler
        self._unit = unit
        self._server: ModbusTcpServer | None = None
        self.activity = asyncio.Event()
        self.requests = 0
        self.last_write: tuple[float, int, list[int]] | None = None  # monotonic time, address, values
        # Called with (wall time, function code, address, values) for every write served (benchmarks).
        self.on_write: Callable[[float, int, int, list[int]], None] | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (again after `stop`, with the registers as they were)."""
        device = SimDevice(
            id=self._unit,
            simdata=[SimData(self.first, values=list(self.registers), datatype=DataType.REGISTERS)],
            action=self._action,
            use_bit_addressing=self._coils,
        )
        self._server = ModbusTcpServer(device, address=(host, port))
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        """Stop answering (connections are dropped)."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    async def wait_until(self, condition: Callable[[], bool], within_s: float) -> None:
        """Wait until `condition()` holds, checked after every request; TimeoutError after `within_s`."""
        async with asyncio.timeout(within_s):
            while not condition():
                self.activity.clear()
                await self.activity.wait()

    async def _action(  # noqa: PLR0913, PLR0917 - pymodbus' action signature
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        words = [int(v) for v in values] if values is not None else None
        try:
            refused = self._handler(function_code, address, count, words)
        finally:
            self.activity.set()
        if refused is not None:
            return refused
        if words is not None and self.on_write is not None:
            self.on_write(time.time(), function_code, address, words)
        if words is not None and function_code not in {5, 15}:
            self.last_write = (time.monotonic(), address, words)
        bits = function_code in {1, 5, 15}
        offset = (address // 16 if bits else address) - start_address
        width = (address % 16 + count + 15) // 16 if bits else count
        current[offset : offset + width] = self.registers[offset : offset + width]
        return None
