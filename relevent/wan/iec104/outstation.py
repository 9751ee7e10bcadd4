"""The IEC 104 outstation: c104's server, its callbacks, and the event loop every command is decided on.

Only this module imports c104. Its callbacks run on lib60870's threads: each asks the loop (where the core
runs) with a bounded wait, never raises (c104 would answer positively and drop the handler), and puts the
point's previous value back when the command is refused. No `from __future__ import annotations` here:
c104 checks the callbacks' signatures as text.
"""

import asyncio
import datetime as dt
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import c104
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from relevent.errors import ConfigError
from relevent.scheduler.commands import Actor
from relevent.scheduler.intents import Intents
from relevent.scheduler.slots import Change
from relevent.scheduler.verdicts import (
    NOW,
    UNTIL_CHANGED,
    Cancelled,
    Intent,
    IntentFunction,
    Placed,
    Verdict,
)
from relevent.turns import OncePerTurn
from relevent.wan.iec104.commands import Cancel, ScadaCommand, key, request
from relevent.wan.iec104.config import Iec104Section
from relevent.wan.iec104.monitor import Monitor

log = structlog.get_logger(__name__)

Subscribe = Callable[[Callable[[Change], None]], Callable[[], None]]
# Audits a command refused before the core was asked: actor, command, object, reason, time (epoch s).
Refusals = Callable[[Actor, str, str, str, float], None]


def _transport_security(section: Iec104Section) -> c104.TransportSecurity | None:
    """Mutual TLS 1.2/1.3 (IEC 62351-3) with pinned client certificates, when `tls` is on."""
    if not section.tls:
        return None
    cert, key, ca = section.cert_file, section.key_file, section.ca_file
    assert cert is not None  # the config requires all three with tls
    assert key is not None
    assert ca is not None
    security = c104.TransportSecurity(validate=True, only_known=bool(section.pinned_client_certs))
    security.set_certificate(cert=str(cert), key=str(key))
    security.set_ca_certificate(cert=str(ca))
    for pinned in section.pinned_client_certs:
        security.add_allowed_remote_certificate(cert=str(pinned))
    security.set_version(min=c104.TlsVersion.TLS_1_2, max=c104.TlsVersion.TLS_1_3)
    return security


@dataclass(eq=False)
class _Termination:
    """A placed intent's ACT_TERM still to send: its command point, its slots, the timeout's timer."""

    point: c104.Point
    slots: tuple[str, ...]
    timer: asyncio.TimerHandle | None = None


class Outstation:
    """Serves `[iec104]` until cancelled: commands become intents of the section's actor."""

    def __init__(  # noqa: PLR0913 - the seams the composition root provides
        self,
        section: Iec104Section,
        *,
        intents: Intents,
        monitor: Monitor,
        subscribe: Subscribe,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        refused: Refusals,
    ) -> None:
        self.section = section
        self._intents = intents
        self._monitor = monitor
        self._subscribe = subscribe
        self._clock = clock
        self._refused = refused
        self._points = {point.ioa: point for point in section.points}
        self._loop: asyncio.AbstractEventLoop | None = None
        # The gateway's start-up reservation of the port (`relevent.instance.reserve_port`), closed by `run`.
        self.reserved: socket.socket | None = None
        self._server = c104.Server(
            ip=section.host, port=section.port, tick_rate_ms=100, max_connections=section.max_connections,
            transport_security=_transport_security(section),
        )  # fmt: skip
        link = self._server.protocol_parameters
        link.send_window_size, link.receive_window_size = section.k, section.w
        link.connection_timeout, link.message_timeout = section.t0_s, section.t1_s
        link.confirm_interval, link.keep_alive_interval = section.t2_s, section.t3_s
        station = self._server.add_station(common_address=section.common_address)
        if station is None:
            raise ConfigError(f"[iec104] common_address {section.common_address} is not usable")
        self._station = station
        self._monitored: dict[int, c104.Point] = {}
        self._terminations: list[_Termination] = []
        self._heard = time.monotonic()  # the last frame from any SCADA
        self._sent: dict[int, float | bool | None] = {}
        # A boundary or a command emits many changes in one loop turn; the look follows them (and the
        # devices' commands of that turn).
        self._look = OncePerTurn(self._look_at_changes)
        self.commands = Counter(
            "relevent_iec104_commands", "IEC 104 commands by IOA and answer", ["ioa", "result"],
            registry=registry,
        )  # fmt: skip
        connections = Gauge(
            "relevent_iec104_connections", "IEC 104 SCADA connections open", registry=registry
        )
        connections.set_function(lambda: self.connections)
        self._build()

    @property
    def connections(self) -> int:
        """The SCADA connections open now."""
        return int(self._server.open_connection_count)

    @property
    def listening(self) -> bool:
        """Whether `run` has the server listening."""
        return bool(self._server.is_running)

    def _build(self) -> None:
        for point in self.section.points:
            kind = getattr(c104.Type, point.type)
            mode = c104.CommandMode.SELECT_AND_EXECUTE if point.select_before_operate else (
                c104.CommandMode.DIRECT
            )
            created = self._station.add_point(io_address=point.ioa, type=kind, command_mode=mode)
            if created is None:
                raise ConfigError(f"[iec104] IOA {point.ioa} ({point.type}) is not usable")
            if point.command:
                created.on_receive(callable=self._on_command)
            else:
                self._monitored[point.ioa] = created
        self._server.on_connect(callable=self._on_connect)
        self._server.on_clock_sync(callable=self._on_clock_sync)
        self._server.on_receive_raw(callable=self._on_raw)

    async def run(self) -> None:
        """Listen, keep the monitored objects current, until cancelled; then stop the server's threads."""
        self._loop = asyncio.get_running_loop()
        self._refresh(spontaneous=False)
        unsubscribe = self._subscribe(lambda _change: self._changed())
        if self.reserved is not None:  # lib60870 binds the port itself: the reservation ends just before
            self.reserved.close()
            self.reserved = None
        self._server.start()
        self._station.signal_initialized(cause=c104.Coi.LOCAL_POWER_ON)
        log.info("iec104 listening", host=self.section.host, port=self.section.port,
                 common_address=self.section.common_address, points=len(self._points))  # fmt: skip
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._refresh_devices())
                if self.section.on_link_loss.action != "keep":
                    group.create_task(self._watch_link())
        finally:
            unsubscribe()
            await asyncio.shield(asyncio.to_thread(self._server.stop))

    # --- monitoring direction (on the loop) ---------------------------------------------------------------

    async def _refresh_devices(self) -> None:
        """Device readings change without the scheduler: looked at every second (spontaneous on change)."""
        while True:
            await asyncio.sleep(1.0)
            self._refresh(spontaneous=True)

    def _changed(self) -> None:
        """The scheduler changed an output or a state: looked at once per burst."""
        self._look.ask()

    def _look_at_changes(self) -> None:
        self._refresh(spontaneous=True)
        self._check_terminations()

    def _refresh(self, *, spontaneous: bool) -> None:
        """Every monitored object's value now; the ones that changed go out spontaneously."""
        for ioa, created in self._monitored.items():
            point = self._points[ioa]
            value = self._monitor.value(point)
            last = self._sent.get(ioa, ...)
            if last is not ... and not _moved(last, value, point.deadband):
                continue
            self._sent[ioa] = value
            if value is None:
                created.quality = c104.Quality.Invalid
            else:
                created.value = value
                created.quality = c104.Quality()
            if spontaneous:
                created.transmit(cause=c104.Cot.SPONTANEOUS)

    # --- control direction (lib60870's threads) ----------------------------------------------------------

    def _on_command(
        self, point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        accepted = False
        try:
            config = self._points[point.io_address]
            tagged = config.type.endswith(("_TC_1", "_TA_1"))
            tag = point.recorded_at.timestamp() if tagged and point.recorded_at is not None else None
            value = float(point.value) if config.type.startswith("C_SE") else bool(point.value)  # type: ignore[arg-type]
            command = ScadaCommand(config, value, message.originator_address, tag)
            assert self._loop is not None  # commands arrive only once `run` started the server
            answer: Future[bool] = Future()
            self._loop.call_soon_threadsafe(self._answer, command, point, answer)
            try:
                accepted = answer.result(timeout=self.section.command_timeout_s)
            except TimeoutError:
                answer.cancel()  # the loop then skips it: nobody waits for its answer any more
                log.warning("iec104 command unanswered in time", ioa=point.io_address)
        except Exception:  # c104 would answer positively and drop this handler
            log.exception("iec104 command failed", ioa=point.io_address)
        if not accepted:
            point.info = previous_info  # c104 already holds the refused value
        return c104.ResponseState.SUCCESS if accepted else c104.ResponseState.FAILURE

    def _answer(self, command: ScadaCommand, point: c104.Point, answer: Future[bool]) -> None:
        """Decide on the loop; hand the answer to the waiting thread as soon as the core gives it.

        Set by the core's callback, not by a task's done-callback: that would queue the ACT_CON behind the
        rest of the turn (the audit anchor, the devices' plans).
        """
        if not answer.set_running_or_notify_cancel():
            return
        try:
            self._decide(command, point, answer.set_result)
        except Exception as exc:  # noqa: BLE001 - the waiting thread logs it and answers negatively
            answer.set_exception(exc)

    def _decide(self, command: ScadaCommand, point: c104.Point, give: Callable[[bool], None]) -> None:
        """Ask the core (on the loop); log, count and `give` whether it accepted.

        An intent's device commands leave before its store commit; the answer waits for that commit. A
        placed intent's ACT_TERM follows once it takes effect (or at the termination timeout).
        """
        # The originator address in the peer: the audit trail tells the SCADAs of one actor apart.
        actor = Actor("iec104", f"{self.section.host}:{self.section.port} oa {command.originator}",
                      self.section.actor)  # fmt: skip
        asked = request(self.section, actor, command, self._clock())
        ioa = command.point.ioa
        if command.point.refuse_when_unreachable and self._monitor.reachable(command.point.target) is False:
            asked = f"device {command.point.target} is unreachable"
        if isinstance(asked, str):
            log.warning("iec104 command refused", ioa=ioa, reason=asked)
            self.commands.labels(str(ioa), "refused").inc()
            self._refused(actor, "command", f"IOA {ioa} ({command.point.target})", asked, self._clock())
            give(False)  # noqa: FBT003 - the ACT_CON's answer
            return

        def answered(verdict: Verdict) -> None:
            accepted = isinstance(verdict, Placed | Cancelled)
            try:
                self.commands.labels(str(ioa), "accepted" if accepted else "refused").inc()
                if not accepted:
                    log.warning("iec104 command refused by the scheduler", ioa=ioa, verdict=str(verdict))
                elif isinstance(verdict, Placed):
                    self._await_termination(point, verdict.slots)
            finally:
                give(accepted)

        if isinstance(asked, Cancel):
            self._intents.cancel_soon(asked.actor, asked.key, answered)
        else:
            self._intents.place_soon(asked, answered)

    def _await_termination(self, point: c104.Point, slots: tuple[str, ...]) -> None:
        """ACT_TERM once the intent sets its controller's output, at the termination timeout at the latest."""
        loop = asyncio.get_running_loop()
        pending = _Termination(point, slots)
        pending.timer = loop.call_later(self.section.termination_timeout_s, self._terminate, pending)
        self._terminations.append(pending)
        self._check_terminations()

    def _check_terminations(self) -> None:
        for pending in [p for p in self._terminations if self._monitor.in_force(p.slots)]:
            self._terminate(pending)

    def _terminate(self, pending: _Termination) -> None:
        if pending in self._terminations:
            self._terminations.remove(pending)
            if pending.timer is not None:
                pending.timer.cancel()
            pending.point.transmit(cause=c104.Cot.ACTIVATION_TERMINATION)

    # --- link loss (on the loop) ------------------------------------------------------------------------

    async def _watch_link(self) -> None:
        """Carry out `on_link_loss` once no SCADA sent a frame for `after_s` (again after each return).

        A live 104 link is never silent longer than t3 (20 s: test frames), so silence is the loss.
        """
        policy = self.section.on_link_loss
        done = False
        while True:
            await asyncio.sleep(min(1.0, policy.after_s / 4))
            silent_s = time.monotonic() - self._heard
            if silent_s < policy.after_s:
                done = False
            elif not done:
                done = True
                self._link_lost(silent_s)

    def _on_raw(self, server: c104.Server, data: bytes) -> None:  # noqa: ARG002 - c104's signature
        self._heard = time.monotonic()  # one float store: safe from lib60870's thread

    def _link_lost(self, since_s: float) -> None:
        policy = self.section.on_link_loss
        log.warning("iec104 link lost", since_s=round(since_s, 1), action=policy.action)
        actor = Actor("iec104", "link-loss", self.section.actor)
        for point in self.section.points:
            if not point.command or point.release or point.function == "OnOff":
                continue
            if policy.action == "release":
                self._intents.cancel(actor, key(point))
            else:
                assert policy.value is not None  # the config pairs them
                self._intents.place(Intent(actor, key(point), point.target, IntentFunction(point.function),
                                           NOW, UNTIL_CHANGED, (policy.value,)))  # fmt: skip

    def _on_connect(self, server: c104.Server, ip: str) -> bool:  # noqa: ARG002 - c104's signature
        allowed = not self.section.allowed_clients or ip in self.section.allowed_clients
        log.info("iec104 connection", ip=ip, allowed=allowed)
        return allowed

    def _on_clock_sync(
        self, server: c104.Server, ip: str, date_time: dt.datetime  # noqa: ARG002 - c104's signature
    ) -> c104.ResponseState:
        # The gateway keeps its own (NTP) time: a SCADA's clock is information only.
        log.info("iec104 clock sync ignored", ip=ip, scada_time=str(date_time))
        return c104.ResponseState.SUCCESS


def _moved(last: float | bool | None, value: float | bool | None, deadband: float) -> bool:
    if last is None or value is None or isinstance(value, bool) or isinstance(last, bool):
        return last != value
    return abs(value - last) > deadband

