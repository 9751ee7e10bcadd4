"""One station steered: its profiles kept in line with the intent and plan, and its health judged.

Success is judged by what the station will do (its composite schedule) and then does (its next meter
values after `settle_s`), never by "Accepted" alone: stations accept profiles and ignore them. A charging
limit is a ceiling (the EV may draw less); a discharge is a setpoint the EV follows, never exceeds, and
the meter values must show as export.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog
from ocpp.exceptions import OCPPError
from websockets.exceptions import ConnectionClosed

from relevent.lan.driver import DeviceHealth, DeviceIntent, DeviceReports, HealthReport, MeterReading
from relevent.lan.ocpp.config import OcppSection
from relevent.lan.ocpp.link import StationLink
from relevent.lan.ocpp.profiles import Capabilities, ProfileSpec, Purpose, StationView, build
from relevent.lan.ocpp.station import Station
from relevent.lan.ocpp.units import Electrical, StationLimit, to_watts
from relevent.scheduler.values import Timestamp
from relevent.waits import wait_set

log = structlog.get_logger(__name__)

COMPOSITE_S = 60  # how far ahead the composite schedule is read back
# OCPP 2.1 allows the station maximum no discharge (ChargingOnly), and in proxy mode every gateway layer
# sits on it (see `placement`)
PROXY_DISCHARGE = "proxy mode steers the station maximum, which carries no discharge"


def tolerance(w: float) -> float:
    """How far a station's figure may exceed the limit before it counts as not following it."""
    return max(50.0, 0.02 * w)


def effective(specs: list[ProfileSpec], t: Timestamp) -> list[StationLimit]:
    """Each purpose's limit at `t`: its highest active stack level's (across purposes the lowest wins)."""
    top: dict[Purpose, tuple[int, StationLimit]] = {}
    for spec in specs:
        limit = spec.limit_at(t)
        held = top.get(spec.slot.purpose)
        if limit is not None and (held is None or spec.slot.stack_level > held[0]):
            top[spec.slot.purpose] = (spec.slot.stack_level, limit)
    return [limit for _, limit in top.values()]


@dataclass(frozen=True)
class MeterCheck:
    """What the next meter values after `after` must respect, for the intent `seq`.

    `limit_w` in the station's sign: a ceiling on the import, or (negative) a discharge setpoint.
    """

    limit_w: float
    after: Timestamp
    seq: int | None

    def breach(self, imported_w: float) -> str:
        """What is wrong with the station importing `imported_w` ("" where nothing is)."""
        if self.limit_w >= 0:
            if imported_w > self.limit_w + tolerance(self.limit_w):
                return f"meter values show {imported_w:.0f} W over the limit of {self.limit_w:.0f} W"
            return ""
        asked = -self.limit_w
        if -imported_w > asked + tolerance(asked):
            return f"meter values show {-imported_w:.0f} W of export over the setpoint of {asked:.0f} W"
        if imported_w > tolerance(asked):
            return f"meter values show {imported_w:.0f} W of import where {asked:.0f} W of export was asked"
        return ""


class Steering:
    """Keeps one station's profiles in line; `run` serves one connection of it."""

    def __init__(
        self,
        station: Station,
        section: OcppSection,
        reports: DeviceReports,
        clock: Callable[[], float],
        settle_s: float = 10.0,
    ) -> None:
        self.station = station
        self.section = section
        self.reports = reports
        self.clock = clock
        self.settle_s = settle_s
        self.check: MeterCheck | None = None
        entry = section.stations.get(station.station_id)
        self.proxied = entry is not None and entry.upstream_url is not None

    @property
    def seq(self) -> int | None:
        """The intent the current health is about."""
        return self.station.intent.seq if self.station.intent is not None else None

    def report(self, health: DeviceHealth, detail: str = "", seq: int | None = None) -> None:
        """Tell the device layer about intent `seq` (default: the newest)."""
        about = self.seq if seq is None else seq
        self.reports.on_health(HealthReport(self.station.station_id, health, about, detail))

    def booted(self) -> None:
        """A boot: profiles and capabilities are asserted again."""
        self.station.forget_installed()

    def measured(
        self, evse_id: int, ts: Timestamp, w: float | None, phases: int | None, voltage_v: float | None
    ) -> None:
        """A meter value: the phases and voltage for A <-> W, the station's power, the pending check."""
        station = self.station
        electrical = station.electrical
        station.electrical = Electrical(voltage_v or electrical.voltage_v, phases or electrical.phases)
        if w is None:
            return
        station.evse(evse_id).w = w
        # the station meters what the EVs import; ours is positive for injection
        self.reports.on_measurement(MeterReading(station.station_id, ts, -station.w))
        check = self.check
        charging = any(evse.transaction_id for evse in station.evses.values())
        if check is None or ts < check.after or not charging:
            return
        self.check = None
        breach = check.breach(station.w)
        if breach and check.seq == self.seq:
            self.report(DeviceHealth.NOT_APPLIED, breach)

    async def run(self, link: StationLink) -> None:
        """Sync the station whenever its intent, plan or boot asks, and before profiles run out."""
        station = self.station
        station.wake.set()
        while True:
            await self._wait(self._refresh_at())
            station.wake.clear()
            try:
                await self.sync(link)
            except TimeoutError:
                log.warning("ocpp_no_answer", station=station.station_id)
                self.report(DeviceHealth.NOT_ACKNOWLEDGED, "no answer within the response timeout")
            except OCPPError as exc:
                log.warning("ocpp_call_error", station=station.station_id, code=exc.code, error=str(exc))
                self.report(DeviceHealth.REJECTED, f"{exc.code}: {exc.description}")
            except ConnectionClosed:
                return
            except Exception:  # a defect here must not leave the station unsteered until it reconnects
                log.exception("ocpp_sync_failed", station=station.station_id)
                self.report(DeviceHealth.NOT_ACKNOWLEDGED, "the gateway failed to steer the station")

    async def _wait(self, deadline: float) -> None:
        timeout = None if math.isinf(deadline) else max(0.0, deadline - self.clock())
        await wait_set(self.station.wake, timeout)

    def _refresh_at(self) -> float:
        """Half way through the shortest-lived profile installed."""
        return min(
            (
                spec.start + spec.duration / 2
                for spec in self.station.installed.values()
                if spec.duration is not None
            ),
            default=math.inf,
        )

    async def sync(self, link: StationLink) -> None:
        """Install what differs, clear what is no longer wanted, then judge the result."""
        station = self.station
        if station.caps is None:
            station.caps = await link.capabilities()
            log.info("ocpp_capabilities", station=station.station_id, caps=station.caps)
        # One intent throughout: a newer one arriving meanwhile wakes the next sync, which judges it.
        intent = station.intent
        refusals: list[str] = []
        no_discharge = PROXY_DISCHARGE if self.proxied else station.discharge_refusal()
        specs = await self._install(link, intent, refusals, discharge=not no_discharge)
        injection = intent is not None and intent.fields.w_set is not None and intent.fields.w_set > 0
        if injection and no_discharge:
            refusals.append(no_discharge)
        if intent is None and station.plan is None:
            return
        await self._judge(link, specs, refusals, None if intent is None else intent.seq)

    async def _install(
        self, link: StationLink, intent: DeviceIntent | None, refusals: list[str], *, discharge: bool
    ) -> list[ProfileSpec]:
        station = self.station
        while True:
            caps = station.caps or Capabilities()
            view = StationView(caps, station.electrical, self.proxied, discharge)
            specs = build(intent, station.plan, view, self.clock(), self.section)
            wanted = {spec.profile_id for spec in specs}
            for profile_id in [i for i in station.installed if i not in wanted]:
                await link.clear_profile(profile_id)
                del station.installed[profile_id]
            refolded = False
            for spec in specs:
                held = station.installed.get(spec.profile_id)
                if held is not None and held.content == spec.content:
                    continue
                answer = await link.set_profile(spec)
                if answer.accepted:
                    station.installed[spec.profile_id] = spec
                elif spec.slot.purpose is Purpose.STATION_MAX and caps.station_max:
                    log.warning("ocpp_station_max_refused", station=station.station_id, reason=answer.reason)
                    station.caps = replace(caps, station_max=False)
                    refolded = True
                    break
                else:
                    station.installed.pop(spec.profile_id, None)
                    refusals.append(
                        f"{spec.slot.purpose} at stack {spec.slot.stack_level}: {answer.reason or 'Rejected'}"
                    )
            if not refolded:
                return specs

    async def _judge(
        self, link: StationLink, specs: list[ProfileSpec], refusals: list[str], seq: int | None
    ) -> None:
        now = self.clock()
        current = effective(specs, now)
        limit_w = min((limit.w for limit in current), default=None)
        if refusals:
            self.check = None
            self.report(DeviceHealth.REJECTED, "; ".join(refusals), seq)
            return
        if limit_w is None:
            self.report(DeviceHealth.APPLIED, "", seq)
            return
        health, detail = await self._read_back(link, limit_w)
        if health is DeviceHealth.NOT_APPLIED:
            self.check = None
            self.report(health, detail, seq)
            return
        self.check = MeterCheck(limit_w, now + self.settle_s, seq)
        # a ceiling under 6 A pauses a charging EV; while it discharges, ceilings do not apply
        clamped = [limit for limit in current if limit.clamped and limit_w >= 0]
        if clamped:
            detail = f"{clamped[0].value:g} {clamped[0].unit} is under 6 A: the EV pauses"
            self.report(DeviceHealth.CLAMPED, detail, seq)
        else:
            self.report(health, detail, seq)

    async def _read_back(self, link: StationLink, limit_w: float) -> tuple[DeviceHealth, str]:
        """What the station's composite schedules say: above the limit (not applied), below it (clamped).

        A discharge (`limit_w` < 0) is read from the setpoint, in magnitudes: more export than asked is
        not applied, less is clamped (the EV's own maximum, say).
        """
        station = self.station
        unit = (station.caps or Capabilities()).unit
        discharge = limit_w < 0
        if discharge:
            asked, what, verb = -limit_w, "discharge setpoint", "discharges"
        else:
            asked, what, verb = limit_w, "limit", "allows"
        lower = ""
        for evse_id in sorted(set(station.evses) - {0}) or [1]:
            composite = await link.composite(evse_id, unit, COMPOSITE_S)
            value = composite.setpoint if discharge else composite.limit
            if value is None or (discharge and value >= 0):
                return DeviceHealth.NOT_APPLIED, f"evse {evse_id}: the composite schedule holds no {what}"
            found = to_watts(value, composite.unit, station.electrical) * (-1 if discharge else 1)
            if found > asked + tolerance(asked):
                detail = f"evse {evse_id}: the composite schedule {verb} {found:.0f} W of {asked:.0f} W"
                return DeviceHealth.NOT_APPLIED, detail
            if found < asked - tolerance(asked) and (discharge or asked < self.section.max_w):
                lower = f"evse {evse_id}: the station {verb} only {found:.0f} W of {asked:.0f} W"
        return (DeviceHealth.CLAMPED, lower) if lower else (DeviceHealth.APPLIED, "")
