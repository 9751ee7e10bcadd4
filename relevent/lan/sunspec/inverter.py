"""One SunSpec inverter: the intent mapped onto 704/123/703 points, written on change, verified by read-back.

Prefers the 70x DER models and falls back to 12x. Each control block goes out as one write with its
reversion timer (`ceil(valid_until - now)` seconds), the enable as a separate write after its values (704
puts the enables first). Blocks are written again only when their values change or the timers are due for
refresh (at a third of their time), because some inverters persist these registers to flash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import structlog

from relevent.lan.driver import DeviceHealth, DeviceIntent, HealthReport, MeterReading
from relevent.lan.modbus.link import DeviceRefusedError, ModbusLink
from relevent.lan.sunspec import codec
from relevent.lan.sunspec.chain import SunSpecModel, scan
from relevent.lan.sunspec.config import SunSpecOptions
from relevent.lan.sunspec.models import (
    CONTROLS,
    DER_CAPACITY,
    DER_CONTROLS,
    DER_CTL,
    DER_ENTER_SERVICE,
    DER_MEASURE,
    INVERTER_FLOAT,
    INVERTER_INT,
    NAMEPLATE,
    POINTS,
    SETTINGS,
)

log = structlog.get_logger(__name__)

UINT16_MAX_S = 65535  # 12x timers are uint16 seconds
MEASURED = {DER_MEASURE: 117, INVERTER_INT: 40, INVERTER_FLOAT: 50}  # registers read per poll, 70x first


@dataclass
class Block:
    """Registers to write at `offset` of `model`; `timer` is the (start, width) of its reversion timer."""

    model: SunSpecModel
    offset: int
    registers: list[int]
    timer: tuple[int, int] | None = None

    @property
    def address(self) -> int:
        """The block's first register."""
        return self.model.address + self.offset

    def without_timer(self) -> list[int]:
        """The registers that matter for "changed" (the timer changes with every write)."""
        if self.timer is None:
            return self.registers
        start, width = self.timer
        return self.registers[:start] + self.registers[start + width :]


@dataclass
class WritePlan:
    """What the mapping found while building the writes."""

    blocks: list[Block] = field(default_factory=list)
    clamped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


class SunSpecInverter:
    """The `ModbusDevice` of one SunSpec inverter."""

    def __init__(self, device_id: str, options: SunSpecOptions) -> None:
        self.device_id = device_id
        self.options = options
        self.poll_s = options.poll_s
        self.link = ModbusLink(
            options.host, options.port, options.unit, timeout_s=options.timeout_s,
            single_writes=options.single_register_writes,
        )  # fmt: skip
        self.models: dict[tuple[int, int], SunSpecModel] = {}
        self._written: dict[int, list[int]] = {}
        self._refresh_at = 0.0
        self._timed = False
        self._last = HealthReport(device_id, DeviceHealth.UNKNOWN)

    def model(self, mid: int) -> SunSpecModel | None:
        """The first instance of a model, None when the inverter has none."""
        return self.models.get((mid, 0))

    async def attach(self) -> None:
        """A full re-scan; everything is written again (the inverter may have restarted meanwhile)."""
        self.models = await scan(self.link, self.options.base)
        self._written.clear()
        self._refresh_at = 0.0
        log.info("sunspec models", device=self.device_id, models=[f"{m}/{i}" for m, i in self.models])

    def wmax_w(self) -> float | None:
        """The W that 100 % of a limit means: the calibration option, else 702, 121 or 120."""
        if self.options.wmax_w is not None:
            return self.options.wmax_w
        for mid, names in (
            (DER_CAPACITY, ("WMax", "WMaxRtg")),
            (SETTINGS, ("WMax",)),
            (NAMEPLATE, ("WRtg",)),
        ):
            model = self.model(mid)
            for name in names if model else ():
                found = codec.value(model.registers, POINTS[mid], name) if model else None
                if found:
                    return found
        return None

    def refresh_in(self, now: float) -> float | None:
        """Until the reversion timers must be written again; None when no timer is armed."""
        return max(0.0, self._refresh_at - now) if self._timed else None

    async def command(self, intent: DeviceIntent, now: float) -> HealthReport:
        """Map, write what changed (or everything when the timers are due), read back, judge."""
        seconds = max(1, math.ceil(intent.valid_until - now))
        outcome = WritePlan()
        self._map_limit(intent, seconds, outcome)
        self._map_setpoint(intent, seconds, outcome)
        self._map_connect(intent, seconds, outcome)
        refresh = now >= self._refresh_at
        due = [b for b in outcome.blocks if refresh or self._written.get(b.address) != b.without_timer()]
        if not due and not outcome.rejected:
            self._last = HealthReport(self.device_id, self._last.health, intent.seq, self._last.detail)
            return self._last
        refused = await self._write(due)
        mismatch = await self._read_back(due)
        self._timed = any(b.timer for b in outcome.blocks)
        if refresh or due:
            self._refresh_at = now + seconds / 3 if refresh else min(self._refresh_at, now + seconds / 3)
        self._last = self._judge(intent.seq, outcome, refused, mismatch)
        return self._last

    async def _write(self, blocks: list[Block]) -> list[str]:
        refused: list[str] = []
        for block in blocks:
            try:
                await self.link.write(block.address, block.registers)
            except DeviceRefusedError as exc:
                refused.append(str(exc))
                self._written.pop(block.address, None)
                continue
            self._written[block.address] = block.without_timer()
        return refused

    async def _read_back(self, blocks: list[Block]) -> list[str]:
        """Re-read each written control model; the points written must hold what was written."""
        mismatch: list[str] = []
        for model in {id(b.model): b.model for b in blocks}.values():
            model.registers = await self.link.read(model.address, model.length + 2)
        for block in blocks:
            if block.address not in self._written:
                continue
            held = block.model.registers[block.offset : block.offset + len(block.registers)]
            if held != block.registers:
                mismatch.append(
                    f"model {block.model.mid} +{block.offset}: wrote {block.registers}, holds {held}"
                )
                self._written.pop(block.address)
        return mismatch

    def _judge(self, seq: int, outcome: WritePlan, refused: list[str], mismatch: list[str]) -> HealthReport:
        if outcome.rejected or refused:
            return HealthReport(
                self.device_id, DeviceHealth.REJECTED, seq, "; ".join(outcome.rejected + refused)
            )
        if mismatch:
            return HealthReport(self.device_id, DeviceHealth.NOT_APPLIED, seq, "; ".join(mismatch))
        if outcome.clamped:
            return HealthReport(self.device_id, DeviceHealth.CLAMPED, seq, "; ".join(outcome.clamped))
        return HealthReport(self.device_id, DeviceHealth.APPLIED, seq)

    def _percent(self, watts: float, model: SunSpecModel, mid: int, outcome: WritePlan) -> list[int] | None:
        """`watts` as percent of WMax, rounded down at the point's resolution (never above the order)."""
        wmax = self.wmax_w()
        sf = codec.raw(model.registers, POINTS[mid]["WMaxLimPct_SF"].offset, "sunssf")
        if wmax is None or not isinstance(sf, int) or sf not in codec.SF_RANGE:
            outcome.rejected.append("w_max_lim: the inverter reports no WMax or no WMaxLimPct_SF")
            return None
        step = 10.0**sf
        share = max(0.0, watts) / wmax * 100
        if share > 100:
            outcome.clamped.append(f"w_max_lim {watts} W above WMax {wmax} W")
        percent = math.floor(min(100.0, share) / step + 1e-9) * step
        return codec.encode(percent, "uint16", sf)

    def _map_limit(self, intent: DeviceIntent, seconds: int, outcome: WritePlan) -> None:
        limit = intent.fields.w_max_lim
        if (der := self.model(DER_CONTROLS)) is not None:
            if limit is None:
                outcome.blocks.append(Block(der, 14, [0]))
                return
            percent = self._percent(limit, der, DER_CONTROLS, outcome)
            fallback = intent.fallback.w_max_lim
            back = self._percent(fallback, der, DER_CONTROLS, WritePlan()) if fallback is not None else [0]
            if percent is None or back is None:
                return
            enable_back = [int(fallback is not None)]
            timer = codec.encode(seconds, "uint32")
            outcome.blocks += [
                Block(der, 15, percent + back + enable_back + timer, (3, 2)),
                Block(der, 14, [1]),
            ]
        elif (legacy := self.model(CONTROLS)) is not None:
            if limit is None:
                outcome.blocks.append(Block(legacy, 9, [0]))
                return
            percent = self._percent(limit, legacy, CONTROLS, outcome)
            if percent is None:
                return
            window, ramp = legacy.registers[6], legacy.registers[8]
            timer = [min(seconds, UINT16_MAX_S)]
            outcome.blocks.append(Block(legacy, 5, [*percent, window, *timer, ramp, 1], (2, 1)))
        elif limit is not None:
            outcome.rejected.append("w_max_lim: the inverter has neither model 704 nor 123")

    def _map_setpoint(self, intent: DeviceIntent, seconds: int, outcome: WritePlan) -> None:
        setpoint = intent.fields.w_set
        der = self.model(DER_CONTROLS)
        if der is None:
            if setpoint is not None:
                outcome.rejected.append("w_set: no active-power setpoint (the inverter has no model 704)")
            return
        if setpoint is None:
            outcome.blocks.append(Block(der, 22, [0]))
            return
        wmax = self.wmax_w()
        if wmax is not None and abs(setpoint) > wmax:
            outcome.clamped.append(f"w_set {setpoint} W beyond WMax {wmax} W")
            setpoint = math.copysign(wmax, setpoint)
        sf = codec.raw(der.registers, POINTS[DER_CONTROLS]["WSet_SF"].offset, "sunssf")
        sf = sf if isinstance(sf, int) and sf in codec.SF_RANGE else 0
        fallback = intent.fallback.w_set
        try:
            watts = codec.encode(setpoint, "int32", sf)
            back = codec.encode(fallback if fallback is not None else 0.0, "int32", sf)
        except codec.OutOfRangeError as exc:
            outcome.rejected.append(f"w_set: {exc}")
            return
        percent, percent_back = der.registers[28], der.registers[29]  # kept as the inverter holds them
        timer = codec.encode(seconds, "uint32")
        values = [1, *watts, *back, percent, percent_back, int(fallback is not None), *timer]
        outcome.blocks += [Block(der, 23, values, (8, 2)), Block(der, 22, [1])]

    def _map_connect(self, intent: DeviceIntent, seconds: int, outcome: WritePlan) -> None:
        on = intent.fields.on
        if on is None:
            return
        if (control := self.model(DER_CTL)) is not None:  # the newest firmware's own start/stop
            outcome.blocks.append(Block(control, 8, [int(on)]))
        elif (legacy := self.model(CONTROLS)) is not None:
            outcome.blocks.append(Block(legacy, 3, [min(seconds, UINT16_MAX_S), int(on)], (0, 1)))
        elif (service := self.model(DER_ENTER_SERVICE)) is not None:
            outcome.blocks.append(Block(service, 2, [int(on)]))
        else:
            outcome.rejected.append("on: the inverter has none of the models 715, 123, 703")

    async def poll(self, now: float) -> MeterReading | None:
        """Measured W (70x first); an all-zero frame (a known firmware glitch) is discarded."""
        for mid, count in MEASURED.items():
            model = self.model(mid)
            if model is None:
                continue
            registers = await self.link.read(model.address, min(count, model.length + 2))
            if not any(registers[2:]):
                log.warning("sunspec all-zero frame discarded", device=self.device_id, model=mid)
                return None
            watts = codec.value(registers, POINTS[mid], "W")
            if watts is None:
                return None
            return MeterReading(self.device_id, now, watts, state=_state(mid, registers))  # + generation
        return None

    async def stop(self) -> None:
        """Nothing to do: the reversion timers bring the inverter back by itself."""


# The operating states of 103/113 `St` and of 701 `InvSt` (SunSpec's enumerations).
_STATES = {
    "St": {1: "OFF", 2: "SLEEPING", 3: "STARTING", 4: "MPPT", 5: "THROTTLED", 6: "SHUTTING_DOWN", 7: "FAULT",
           8: "STANDBY"},
    "InvSt": {0: "OFF", 1: "SLEEPING", 2: "STARTING", 3: "RUNNING", 4: "THROTTLED", 5: "SHUTTING_DOWN",
              6: "FAULT", 7: "STANDBY"},
}  # fmt: skip


def _state(mid: int, registers: list[int]) -> str | None:
    """The inverter's operating state from the measured model's registers (None: not reported)."""
    name = "InvSt" if mid == DER_MEASURE else "St"
    number = codec.value(registers, POINTS[mid], name)
    return None if number is None else _STATES[name].get(int(number), f"{name}={int(number)}")
