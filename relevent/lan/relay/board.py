"""A relay board as a `ModbusDevice`: the intent -> contacts by the configured table, read back."""

from __future__ import annotations

import structlog

from relevent.lan.driver import DeviceFields, DeviceHealth, DeviceIntent, HealthReport, MeterReading
from relevent.lan.modbus.link import ModbusLink
from relevent.lan.relay.config import SG_READY_CONTACTS, CurtailmentStep, RelayOptions

log = structlog.get_logger(__name__)


def contacts(options: RelayOptions, fields: DeviceFields) -> tuple[dict[int, bool], str | None]:
    """The coils the fields ask for, and why the board carries out less than asked (None: exactly).

    A field without a value drives nothing: its contacts keep their state.
    """
    wanted: dict[int, bool] = {}
    short: str | None = None
    if fields.on is not None and options.on_coil is not None:
        wanted[options.on_coil] = fields.on
    if options.sg_ready_coils is not None and (fields.on is not None or fields.w_set is not None):
        state = SG_READY_CONTACTS[sg_ready_state(options, fields)]
        wanted.update(zip(options.sg_ready_coils, state, strict=True))
    if fields.w_max_lim is not None and options.steps and options.rating_w is not None:
        step = curtailment_step(options.steps, fields.w_max_lim / options.rating_w * 100)
        wanted.update(zip(options.step_coils, step.coils, strict=True))
        if step.pct / 100 * options.rating_w < fields.w_max_lim:
            short = f"step {step.pct:g} % of {options.rating_w:g} W for a limit of {fields.w_max_lim:g} W"
    return wanted, short


def curtailment_step(steps: tuple[CurtailmentStep, ...], limit_pct: float) -> CurtailmentStep:
    """The highest step at or below the limit; the lowest when the limit is below every step."""
    ordered = sorted(steps, key=lambda step: step.pct)
    below = [step for step in ordered if step.pct <= limit_pct + 1e-9]
    return below[-1] if below else ordered[0]


def sg_ready_state(options: RelayOptions, fields: DeviceFields) -> int:
    """1 blocked (off), 4 forced on, 3 recommended on (by consumption, -w_set), else 2 normal."""
    if fields.on is False:
        return 1
    consumption = -fields.w_set if fields.w_set is not None else 0.0
    if options.sg_forced_w is not None and consumption >= options.sg_forced_w:
        return 4
    return 3 if consumption >= options.sg_recommended_w else 2


class RelayBoard:
    """The `ModbusDevice` of one relay board: contacts written on change, every used coil read back."""

    def __init__(self, device_id: str, options: RelayOptions) -> None:
        self.device_id = device_id
        self.options = options
        self.poll_s = options.poll_s
        self.link = ModbusLink(options.host, options.port, options.unit, timeout_s=options.timeout_s)
        self._written: dict[int, bool] = {}

    async def attach(self) -> None:
        """After a (re)connect the board may have restarted: every contact is written again."""
        self._written.clear()
        await self._read()

    async def command(self, intent: DeviceIntent, now: float) -> HealthReport:  # noqa: ARG002 - no timers
        """Write the contacts that change, read every used coil back, judge."""
        wanted, short = contacts(self.options, intent.fields)
        for coil, closed in wanted.items():
            if self._written.get(coil) != closed:
                await self.link.write_coils(coil, [closed])
                self._written[coil] = closed
        state = await self._read()
        wrong = sorted(coil for coil, closed in wanted.items() if state.get(coil) != closed)
        if wrong:
            self._written.clear()  # written again with the next intent
            return HealthReport(self.device_id, DeviceHealth.NOT_APPLIED, intent.seq, f"coils {wrong} differ")
        if short is not None:
            return HealthReport(self.device_id, DeviceHealth.CLAMPED, intent.seq, short)
        return HealthReport(self.device_id, DeviceHealth.APPLIED, intent.seq)

    def refresh_in(self, now: float) -> float | None:  # noqa: ARG002 - contacts hold by themselves
        """Contacts have no timer."""
        return None

    async def poll(self, now: float) -> MeterReading | None:  # noqa: ARG002 - nothing is measured
        """Read the coils: a board that stops answering turns unreachable."""
        await self._read()
        return None

    async def stop(self) -> None:
        """The configured shutdown state; other contacts keep theirs."""
        for coil, closed in self.options.shutdown_coils.items():
            await self.link.write_coils(coil, [closed])
        if self.options.shutdown_coils:
            log.info("relay board shutdown state", device=self.device_id, coils=self.options.shutdown_coils)

    async def _read(self) -> dict[int, bool]:
        coils = self.options.coils
        if not coils:
            return {}
        first = coils[0]
        values = await self.link.read_coils(first, coils[-1] - first + 1)
        return {coil: values[coil - first] for coil in coils}
