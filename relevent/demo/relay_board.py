"""A simulated Modbus relay board: `coils` contacts over Modbus TCP (FC01 read, FC05/FC15 write).

Runs standalone for `relevent-gw demo` (`python -m relevent.demo.relay_board --port N`); tests use it in
process and read its contacts directly.
"""

from __future__ import annotations

import argparse
import asyncio

from pymodbus.constants import ExcCodes

from relevent.demo.modbus_server import RegisterServer

BITS = 16  # the server keeps coil n as bit n % 16 of word n // 16


class SimulatedRelayBoard:
    """`count` contacts, all open at power-up; `stuck` coils refuse to move (a welded relay)."""

    def __init__(self, count: int = 8, unit: int = 0) -> None:
        self.count = count
        self.stuck: set[int] = set()
        self.writes = 0  # write requests served (flash and relay wear are what writes-on-change avoid)
        self.server = RegisterServer(0, [0] * ((count + BITS - 1) // BITS), self._handle, unit, coils=True)

    def closed(self, coil: int) -> bool:
        """Whether contact `coil` is closed."""
        return bool(self.server.registers[coil // BITS] >> (coil % BITS) & 1)

    def _set(self, coil: int, closed: bool) -> None:
        word, bit = divmod(coil, BITS)
        if closed:
            self.server.registers[word] |= 1 << bit
        else:
            self.server.registers[word] &= ~(1 << bit)

    def _handle(
        self, function_code: int, address: int, count: int, values: list[int] | None
    ) -> ExcCodes | None:
        if function_code not in {1, 5, 15}:
            return ExcCodes.ILLEGAL_FUNCTION
        if address + count > self.count:
            return ExcCodes.ILLEGAL_ADDRESS
        self.writes += values is not None
        for offset, value in enumerate(values or ()):
            if address + offset not in self.stuck:
                self._set(address + offset, bool(value))
        return None


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--coils", type=int, default=8)
    args = parser.parse_args()
    board = SimulatedRelayBoard(args.coils)
    await board.server.start(args.host, args.port)
    print(f"relay board on {args.host}:{args.port}, {args.coils} coils", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
