"""A simulated SunSpec inverter on Modbus TCP: models 1, 103 (or 113), 120, 121, 123, 701-704.

Output follows the limits and the setpoint (optionally ramped); reversion timers run on an injected clock
and are evaluated at every request; read-only points answer exception 2 to writes and out-of-range values
exception 3. Quirks of real firmware can be switched on: FC16 refused on controls, all-zero measurement
frames, limits that persist (no reversion).
Run standalone: `python -m relevent.demo.sunspec_inverter --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pymodbus.constants import ExcCodes

from relevent.demo.modbus_server import RegisterServer
from relevent.lan.sunspec import codec
from relevent.lan.sunspec.models import (
    COMMON,
    CONTROLS,
    DER_CAPACITY,
    DER_CONTROLS,
    DER_CTL,
    DER_ENTER_SERVICE,
    DER_MEASURE,
    END_ID,
    INVERTER_FLOAT,
    INVERTER_INT,
    LENGTHS,
    MARKER,
    NAMEPLATE,
    POINTS,
    SETTINGS,
    WIDTH,
)

ALL_MODELS = (
    COMMON, INVERTER_INT, NAMEPLATE, SETTINGS, CONTROLS,
    DER_MEASURE, DER_CAPACITY, DER_ENTER_SERVICE, DER_CONTROLS,
)  # fmt: skip
# The writable registers (offsets from the model's ID register) and the values each may take.
WRITABLE: dict[int, dict[int, range]] = {
    CONTROLS: {
        2: range(65536), 3: range(65536), 4: range(2), 5: range(1001), 6: range(65536), 7: range(65536),
        8: range(65536), 9: range(2),
    },
    DER_ENTER_SERVICE: {2: range(2)},
    DER_CTL: {8: range(4)},
    DER_CONTROLS: {14: range(2), 15: range(10001), 16: range(10001), 17: range(2), 18: range(65536),
                   19: range(65536), 22: range(2), 23: range(2), **{o: range(65536) for o in range(24, 33)}},
}  # fmt: skip
THROTTLED, MPPT = 5, 4  # 103 St
INV_RUNNING, INV_THROTTLED = 3, 4  # 701 InvSt


@dataclass
class Quirks:
    """Field behaviour to reproduce (lan-sunspec.md, pitfalls)."""

    refuse_fc16: bool = False  # FC16 on control registers answers exception 2 (FC06 works)
    zero_frames: bool = False  # measurement models read as all zeros
    persistent_limit: bool = False  # limit timers never fire


class SimulatedInverter:
    """The register image and physics of one inverter; `server` serves it."""

    def __init__(  # noqa: PLR0913 - what the inverter is
        self, *, models: Iterable[int] = ALL_MODELS, base: int = 40000, rated_w: float = 10000.0,
        available_w: float = 6000.0, ramp_w_per_s: float | None = None,
        clock: Callable[[], float] = time.time, quirks: Quirks | None = None, unit: int = 0,
    ) -> None:  # fmt: skip
        self.rated_w = rated_w
        self.available_w = available_w  # what the sun gives now
        self.ramp_w_per_s = ramp_w_per_s
        self.quirks = quirks or Quirks()
        self._clock = clock
        self._last = clock()
        self._power = 0.0
        self._deadlines: dict[str, float] = {}
        self.addresses: dict[int, int] = {}
        registers = [*MARKER]
        for mid in models:
            self.addresses[mid] = base + len(registers)
            registers += [mid, LENGTHS[mid]] + [0] * LENGTHS[mid]
        registers += [END_ID, 0]
        self.server = RegisterServer(base, registers, self._handle, unit)
        self._base = base
        self._initial_values()
        self._physics()

    @property
    def registers(self) -> list[int]:
        """The whole image from the marker on."""
        return self.server.registers

    def _initial_values(self) -> None:
        if COMMON in self.addresses:
            name = b"relevent-sim".ljust(32, b"\0")
            start = self.addresses[COMMON] - self._base + 2
            self.registers[start : start + 16] = [
                int.from_bytes(name[i : i + 2], "big") for i in range(0, 32, 2)
            ]
        defaults: dict[int, dict[str, float]] = {
            NAMEPLATE: {"WRtg_SF": 1, "WRtg": self.rated_w},
            SETTINGS: {"WMax_SF": 0, "WMax": self.rated_w},
            CONTROLS: {"WMaxLimPct_SF": -1, "WMaxLimPct": 100, "Conn": 1},
            DER_CAPACITY: {"W_SF": 0, "WMaxRtg": self.rated_w, "WMax": self.rated_w},
            DER_ENTER_SERVICE: {"ES": 1},
            DER_CTL: {"OpCtl": 1},
            DER_CONTROLS: {"WMaxLimPct_SF": -2, "WSet_SF": 0, "WSetPct_SF": -2, "WMaxLimPct": 100},
            DER_MEASURE: {"W_SF": 0},
            INVERTER_INT: {"W_SF": 0},
        }
        for mid, points in defaults.items():
            for point, number in points.items():
                if mid in self.addresses:
                    self.set(mid, point, number)

    def _model(self, mid: int) -> list[int]:
        """The registers from the model's ID register on."""
        return self.registers[self.addresses[mid] - self._base :]

    def _slice(self, mid: int, name: str) -> tuple[int, int]:
        point = POINTS[mid][name]
        start = self.addresses[mid] - self._base + point.offset
        return start, start + WIDTH[point.kind]

    def value(self, mid: int, name: str) -> float | None:
        """A point's value now (timers evaluated first), scaled; None when not implemented."""
        self._physics()
        return codec.value(self._model(mid), POINTS[mid], name)

    def set(self, mid: int, name: str, number: float) -> None:
        """Set a point (scaled by its scale factor)."""
        point = POINTS[mid][name]
        sf = 0
        if point.sf is not None:
            found = codec.raw(self._model(mid), POINTS[mid][point.sf].offset, "sunssf")
            sf = int(found) if isinstance(found, int) else 0
        start, end = self._slice(mid, name)
        self.registers[start:end] = codec.encode(number, point.kind, sf)

    def set_raw(self, mid: int, name: str, registers: list[int]) -> None:
        """Put raw registers into a point (a "not implemented" sentinel, say)."""
        start, end = self._slice(mid, name)
        self.registers[start:end] = registers

    def _handle(
        self, function_code: int, address: int, count: int, values: list[int] | None
    ) -> ExcCodes | None:
        self._physics()
        if values is None:
            self._zero_frames(address, count)
            return None
        checked = self._check_write(function_code, address, values)
        if checked is not None:
            return checked
        start = address - self._base
        self.registers[start : start + len(values)] = values
        self._arm(address, len(values))
        self._physics()
        return None

    def _owner(self, address: int) -> tuple[int, int] | None:
        for mid, start in self.addresses.items():
            if start <= address < start + LENGTHS[mid] + 2:
                return mid, address - start
        return None

    def _check_write(self, function_code: int, address: int, values: list[int]) -> ExcCodes | None:
        for index, word in enumerate(values):
            owner = self._owner(address + index)
            allowed = WRITABLE.get(owner[0], {}).get(owner[1]) if owner else None
            if allowed is None:
                return ExcCodes.ILLEGAL_ADDRESS
            if self.quirks.refuse_fc16 and function_code == 16:
                return ExcCodes.ILLEGAL_ADDRESS
            if word not in allowed:
                return ExcCodes.ILLEGAL_VALUE
        return None

    def _zero_frames(self, address: int, count: int) -> None:
        if not self.quirks.zero_frames:
            return
        for mid in (INVERTER_INT, INVERTER_FLOAT, DER_MEASURE):
            start = self.addresses.get(mid)
            if start is not None and start <= address < start + LENGTHS[mid] + 2:
                first = max(address, start + 2) - self._base
                self.registers[first : address - self._base + count] = [0] * (
                    address + count - self._base - first
                )

    def _arm(self, address: int, count: int) -> None:
        """A write to a control's value, enable or timer (re)arms its reversion timer."""
        now = self._clock()
        touched = {self._owner(a) for a in range(address, address + count)}
        timers = {
            "limit704": (DER_CONTROLS, range(14, 20), "WMaxLimPctRvrtTms"),
            "wset704": (DER_CONTROLS, range(22, 33), "WSetRvrtTms"),
            "limit123": (CONTROLS, range(5, 10), "WMaxLimPct_RvrtTms"),
            "conn123": (CONTROLS, range(2, 5), "Conn_RvrtTms"),
        }
        for key, (mid, offsets, timer) in timers.items():
            if any(t is not None and t[0] == mid and t[1] in offsets for t in touched):
                seconds = codec.value(self._model(mid), POINTS[mid], timer)
                if seconds:
                    self._deadlines[key] = now + seconds
                else:
                    self._deadlines.pop(key, None)

    def _expire(self, now: float) -> None:
        for key, deadline in list(self._deadlines.items()):
            if now < deadline:
                continue
            if key.startswith("limit") and self.quirks.persistent_limit:
                continue
            del self._deadlines[key]
            if key == "limit704":
                if self._raw(DER_CONTROLS, "WMaxLimPctEnaRvrt") == 1:
                    start, _ = self._slice(DER_CONTROLS, "WMaxLimPctRvrt")
                    self.set_raw(DER_CONTROLS, "WMaxLimPct", [self.registers[start]])
                else:
                    self.set_raw(DER_CONTROLS, "WMaxLimPctEna", [0])
            elif key == "wset704":
                if self._raw(DER_CONTROLS, "WSetEnaRvrt") == 1:
                    start, end = self._slice(DER_CONTROLS, "WSetRvrt")
                    self.set_raw(DER_CONTROLS, "WSet", self.registers[start:end])
                else:
                    self.set_raw(DER_CONTROLS, "WSetEna", [0])
            elif key == "limit123":
                self.set_raw(CONTROLS, "WMaxLim_Ena", [0])
            else:
                self.set_raw(CONTROLS, "Conn", [1])

    def value_raw(self, mid: int, name: str) -> int | float | None:
        """A point's unscaled value now (timers evaluated first)."""
        self._physics()
        return self._raw(mid, name)

    def _raw(self, mid: int, name: str) -> int | float | None:
        point = POINTS[mid][name]
        return codec.raw(self._model(mid), point.offset, point.kind)

    def _target(self) -> tuple[float, bool]:
        """The power the controls ask for now, and whether a limit holds it down."""
        target = self.available_w
        if DER_CONTROLS in self.addresses and self._raw(DER_CONTROLS, "WSetEna") == 1:
            target = codec.value(self._model(DER_CONTROLS), POINTS[DER_CONTROLS], "WSet") or 0.0
        caps = [self.rated_w]
        for mid, enable in ((DER_CONTROLS, "WMaxLimPctEna"), (CONTROLS, "WMaxLim_Ena")):
            if mid in self.addresses and self._raw(mid, enable) == 1:
                percent = codec.value(self._model(mid), POINTS[mid], "WMaxLimPct")
                caps.append((percent or 0.0) * self.rated_w / 100)
        cap = min(caps)
        throttled = target > cap
        target = min(target, cap)
        if self._disconnected():
            return 0.0, False
        return target, throttled

    def _disconnected(self) -> bool:
        return (
            (CONTROLS in self.addresses and self._raw(CONTROLS, "Conn") == 0)
            or (DER_ENTER_SERVICE in self.addresses and self._raw(DER_ENTER_SERVICE, "ES") == 0)
            or (DER_CTL in self.addresses and self._raw(DER_CTL, "OpCtl") in {0, 2})  # stopped, standby
        )

    def _physics(self) -> None:
        now = self._clock()
        self._expire(now)
        target, throttled = self._target()
        step = self.ramp_w_per_s * max(0.0, now - self._last) if self.ramp_w_per_s else math.inf
        self._power += max(-step, min(step, target - self._power))
        self._last = now
        connected = int(not self._disconnected())  # curtailed to 0 W is still connected
        if DER_MEASURE in self.addresses:
            self.set(DER_MEASURE, "W", round(self._power))
            self.set_raw(DER_MEASURE, "ConnSt", [connected])
            state = INV_THROTTLED if throttled else INV_RUNNING if connected else 0
            self.set_raw(DER_MEASURE, "InvSt", [state])
        if INVERTER_INT in self.addresses:
            self.set(INVERTER_INT, "W", round(self._power))
            self.set_raw(INVERTER_INT, "St", [THROTTLED if throttled else MPPT])
        if INVERTER_FLOAT in self.addresses:
            self.set(INVERTER_FLOAT, "W", self._power)
        for key, name in (("limit704", "WMaxLimPctRvrtRem"), ("wset704", "WSetRvrtRem")):
            if DER_CONTROLS in self.addresses:
                remaining = max(0, math.ceil(self._deadlines[key] - now)) if key in self._deadlines else 0
                self.set_raw(DER_CONTROLS, name, codec.encode(remaining, "uint32"))

    @property
    def power_w(self) -> float:
        """The output now (+ generation)."""
        self._physics()
        return self._power


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base", type=int, default=40000)
    parser.add_argument("--rated-w", type=float, default=10000.0)
    args = parser.parse_args()
    inverter = SimulatedInverter(base=args.base, rated_w=args.rated_w)
    await inverter.server.start(args.host, args.port)
    print(f"SunSpec inverter on {args.host}:{args.port}, base {args.base}", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
