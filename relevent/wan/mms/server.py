"""The IEC 61850 MMS server: built from the SCL, guarded by a `Gate`, served by a thread or by the loop.

Two ways to serve (`[mms] serve`, `serving_thread`):
- "thread": libiec61850's own thread answers reads and sends reports from the model without Python, so a
  busy event loop (an IEC 104 flood, a boundary at 100 devices) never delays them. It scans every report
  block every millisecond, though: its idle CPU grows with their number.
- "loop": the event loop drives libiec61850 threadless (only the wait for network activity runs in a
  worker thread, through ctypes, which releases the GIL): periodic -> process -> periodic per wake-up,
  20 wake-ups a second while idle, every `WAIT_MS` for `ACTIVE_S` after activity. A read waits for what
  the loop is doing; requests wait out the quiet window around each scheduler instant.
Either way what decides something runs on the loop (`LoopHop`): writes and operates through the `Gate`,
authentications, connections opening and closing. The loop updates the model through `IedServer_update*`
(whose own lock never waits for a request) and never takes the model lock (`IedServer_lockDataModel`),
which a write holds while it waits for the loop. So a batch of updates is applied value by value: a read
may see part of it; a client's write is answered once the mirror holds what it changed. With TLS,
libiec61850 serves plain MMS on a loopback port and a `TlsFront` on the loop terminates TLS on the public
one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry

from relevent.config import ServeMode
from relevent.ports import free_port
from relevent.scheduler.commands import Actor
from relevent.scl.model import SclDocument
from relevent.timing import ACTIVE_S
from relevent.waits import wait_set
from relevent.wan.mms.admission import ConnectionAdmission
from relevent.wan.mms.associations import Associations
from relevent.wan.mms.builder import BuiltModel
from relevent.wan.mms.creation import ServerCreation
from relevent.wan.mms.gate import Gate
from relevent.wan.mms.guard import ConnectionGuard
from relevent.wan.mms.handlers import GateHandlers, peer_address
from relevent.wan.mms.hop import LoopHop
from relevent.wan.mms.lib import iec, lib
from relevent.wan.mms.metrics import MmsMetrics
from relevent.wan.mms.mirror import ModelMirror, Update
from relevent.wan.mms.mms_value import Scalar
from relevent.wan.mms.pacing import Pacer, TimeToNext, quiet_for
from relevent.wan.mms.security import Authenticator, TlsSetupError
from relevent.wan.mms.settings import MmsServerError, MmsSettings
from relevent.wan.mms.sockets import Peer, parse_peer
from relevent.wan.mms.throttle import AuthThrottle
from relevent.wan.mms.tls_front import LOOPBACK, TlsFront

log = structlog.get_logger(__name__)

_Mirror = Callable[[str, Scalar, bool, datetime], None]  # `update` or `preload`

# Every FC libiec61850 has a write policy for; SP writes pass only through a gate's write handlers.
_DENIED_FCS = ("SP", "SV", "SE", "CF", "DC", "BL")
_POLL_S = 0.02  # thread: how often connections that have not associated yet are looked at
WAIT_MS = 5  # loop: the longest wait for network activity while active (bounds report latency)
IDLE_WAIT_MS = 50  # loop: the same while idle (bounds the stop time and the idle wake-ups)
# "auto" serves from libiec61850's thread up to this many report blocks: its scan of every block every
# millisecond then costs about 1 % of a core (docs/performance.md); a larger site is served by the loop.
THREAD_MAX_REPORT_BLOCKS = 250


def serving_thread(mode: ServeMode, report_blocks: int) -> bool:
    """Whether libiec61850's own thread serves (else the event loop drives it)."""
    return mode == "thread" or (mode == "auto" and report_blocks <= THREAD_MAX_REPORT_BLOCKS)


class MmsServer:
    """One MMS server for one IED of an SCL document.

    Construct from a `ServerCreation` (or `build` from the SCL: model, server, gate), `start()` (binds,
    raises MmsServerError), then run `serve()` as a task until `stop()` or cancellation; `close()` frees the
    C memory afterwards.
    `submit` mirrors the scheduler's changes into the model in slices (a `Pacer`), `update` one value
    at once; call them on the loop thread (`mirror_from` names what flushes the changes before a write
    is answered). Connections that do not associate in time are closed by a `ConnectionGuard` thread
    while the server listens.
    """

    def __init__(
        self, creation: ServerCreation, gate: Gate, registry: CollectorRegistry | None = None
    ) -> None:
        """Take over `creation` (closed with this server, or when this fails); waits for it if need be."""
        self.settings = settings = creation.settings
        self._creation = creation
        self._closed = False
        self._pacer: Pacer[Update] = Pacer(self._mirror_one)
        self._hop = LoopHop()
        self._hop.settle = self._settle
        self._flush: Callable[[], None] = lambda: None
        self._wake = asyncio.Event()  # `serve` looks at the connections and at `stop`
        self._started = False  # started and not stopped: destroy needs IedServer_stop first
        self.handlers: GateHandlers | None = None
        credentials = settings.credentials
        metrics = MmsMetrics(registry)
        try:
            built = creation.built()
            self.model: BuiltModel = built.model
            self.report_blocks = built.report_blocks
            self._front = self._tls_front(metrics) if settings.tls else None
            # libiec61850's own port: the public one, or with TLS a free loopback port behind the front
            self._port = free_port(LOOPBACK) if self._front else settings.port
            handlers = GateHandlers(self.model, gate, self._identify, self._hop)  # Python, beside creation
            self._server = creation.server()
            for fc in _DENIED_FCS:
                lib.IedServer_setWriteAccessPolicy(self._server, getattr(iec, f"IEC61850_FC_{fc}"),
                                                   iec.ACCESS_POLICY_DENY)
            by_password = credentials is not None and credentials.method == "password"
            password_of = credentials if credentials and by_password else None
            admission: ConnectionAdmission[int] = ConnectionAdmission(settings.limits)
            self._authenticator = (Authenticator(self._server, password_of, admission.may_associate,
                                                 self._hop) if password_of else None)  # fmt: skip
            self._guard = ConnectionGuard(self._port, settings.guard, on_close=metrics.on_guard_close)
            throttle = AuthThrottle(settings.throttle, on_failure=metrics.on_auth_failure)
            self._associations = Associations(self._server, self._guard, admission, throttle, self._hop,
                                              accept_anyone=not by_password, actor_of=self._actor_of,
                                              host_of=self._host_of, admit=self._admit,
                                              on_refuse=metrics.on_guard_close)  # fmt: skip
            handlers.register(self._server)
            self.handlers = handlers
            metrics.associations.set_function(lambda: self._associations.count)  # read on the loop
        except BaseException:
            self.close()
            raise
        self.mirror = ModelMirror(self._server, self.model)
        self.threaded = serving_thread(settings.serve, len(self.report_blocks))
        self._stopping = False
        self._active_until = 0.0  # loop: monotonic time until which `serve` polls every `WAIT_MS`

    def _tls_front(self, metrics: MmsMetrics) -> TlsFront:
        settings = self.settings
        assert settings.tls is not None
        credentials = settings.credentials
        by_certificate = credentials is not None and credentials.method == "certificate"
        identify = credentials.actor_for_certificate if credentials and by_certificate else None
        try:
            return TlsFront(settings.tls, handshake_timeout_s=settings.guard.tls_handshake_timeout_s,
                            identify=identify, per_peer=settings.limits.per_peer,
                            on_close=metrics.on_guard_close)  # fmt: skip
        except TlsSetupError as exc:
            raise MmsServerError(str(exc)) from None

    def _admit(self, peer: tuple[str, int]) -> bool:
        """Whether libiec61850 may serve a connection from `peer`: with TLS, only the front's relays."""
        return self._front is None or self._front.session(peer) is not None

    def _host_of(self, peer: Peer) -> str | None:
        """The host of the client behind a connection from `peer` (with TLS: the front's client)."""
        if self._front is None:
            return peer[0]
        session = self._front.session(peer)
        client = parse_peer(session.client) if session else None
        return client[0] if client else None

    def _actor_of(self, connection: int) -> str | None:
        """The actor a connection associated as (None: anonymous)."""
        actor = self._identify(connection)
        return actor.user if actor else None

    def _identify(self, connection: int | None) -> Actor | None:
        """The actor of a connection: its TLS client and certificate actor, or its peer; with its password."""
        peer = peer_address(connection)
        user = self._authenticator.user_of(connection) if self._authenticator else None
        if self._front is None:
            return Actor(protocol="mms", peer=peer, user=user)
        session = self._front.session_of(peer)
        if session is None:
            return None
        return Actor(protocol="mms", peer=session.client, user=user if self._authenticator else session.actor)

    @classmethod
    def build(
        cls, doc: SclDocument, gate: Gate, settings: MmsSettings, registry: CollectorRegistry | None = None
    ) -> MmsServer:
        """Build the model and the server of `doc` and register `gate`, in one step."""
        return cls(ServerCreation(doc, settings), gate, registry)

    @property
    def connections(self) -> int:
        """The number of open client connections."""
        return int(lib.IedServer_getNumberOfOpenConnections(self._server))

    @property
    def library_port(self) -> int:
        """The port libiec61850 listens on: the public one, or with TLS the loopback one behind the front."""
        return self._port

    @property
    def associations(self) -> int:
        """The number of client connections that completed their MMS association."""
        return self._associations.count

    def start(self) -> None:
        """Bind and listen (with a thread: serve); raise MmsServerError when that fails.

        Call it on the loop thread, after the model holds its start-up values: clients may read at once.
        """
        settings = self.settings
        self._hop.bind(asyncio.get_running_loop())
        lib.IedServer_setLocalIpAddress(self._server, (LOOPBACK if self._front else settings.host).encode())
        (lib.IedServer_start if self.threaded else lib.IedServer_startThreadless)(self._server, self._port)
        self._started = True
        try:
            listening = bool(lib.IedServer_isRunning(self._server))
            if listening and self._front is not None:
                self._front.listen(settings.host, settings.port)
        except OSError:
            listening = False
        if not listening:
            self._stop_listening()  # even a failed start must be undone, or destroying the server crashes
            raise MmsServerError(
                f"cannot listen on {settings.host}:{settings.port} for MMS: the port is in use, "
                "the address is not local, or ports below 1024 need CAP_NET_BIND_SERVICE"
            ) from None
        credentials = settings.credentials
        log.info("mms server listening", host=settings.host, port=settings.port,
                 ied=self.model.ied.name, report_blocks=len(self.report_blocks),
                 transport="tls" if self._front else "tcp", served_by="thread" if self.threaded else "loop",
                 authentication=credentials.method if credentials else "none")  # fmt: skip
        self._guard.start()

    async def serve(self, time_to_next: TimeToNext = lambda: None) -> None:
        """Serve until `stop()` or cancellation, then stop listening and drop every connection.

        Callback work and model updates keep out of the way of each scheduler instant (`time_to_next`).
        """
        self._pacer.time_to_next = self._hop.time_to_next = time_to_next
        front = asyncio.create_task(self._front.serve(self._port)) if self._front else None
        if front is not None:
            front.add_done_callback(lambda _: self._wake.set())
        try:
            await (self._associate(front) if self.threaded else self._drive(front, time_to_next))
        finally:
            if front is not None:
                front.cancel()
                await asyncio.wait([front])
            self._hop.close()
            # Off the loop: libiec61850's thread, joined here, may be waiting for the loop meanwhile.
            await asyncio.to_thread(self._stop_listening)
            log.info("mms server stopped")

    async def _associate(self, front: asyncio.Task[None] | None) -> None:
        """Thread: libiec61850's thread answers the requests; decide on associations meanwhile."""
        while not self._stopping:
            _raise_if_failed(front)
            self._associations.poll()
            self._wake.clear()
            await wait_set(self._wake, _POLL_S if self._associations.waiting else None)

    async def _drive(self, front: asyncio.Task[None] | None, time_to_next: TimeToNext) -> None:
        """Loop: wait for network activity off the loop, then let libiec61850 process on it.

        Requests wake the loop at once; reports and timers fall due in periodic tasks. For `ACTIVE_S` after
        any network activity or model update (reports wait out their buffer time) the loop looks every
        `WAIT_MS`, else every `IDLE_WAIT_MS`.
        """
        loop = asyncio.get_running_loop()
        server = self._server
        waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mms-wait")
        try:
            while not self._stopping:
                _raise_if_failed(front)
                wait_ms = WAIT_MS if time.monotonic() < self._active_until else IDLE_WAIT_MS
                if await loop.run_in_executor(waiter, lib.IedServer_waitReady, server, wait_ms) > 0:
                    self._stay_active()
                if (quiet_s := quiet_for(time_to_next())) > 0:
                    await asyncio.sleep(quiet_s)
                lib.IedServer_performPeriodicTasks(server)
                lib.IedServer_processIncomingData(server)
                self._associations.poll()
                lib.IedServer_performPeriodicTasks(server)
        finally:  # a cancelled wait still runs to its end (at most IDLE_WAIT_MS): let it
            waiter.shutdown(wait=True)

    def _stay_active(self) -> None:
        """Network activity or a model update: the loop-driven server polls every `WAIT_MS` for a while."""
        self._active_until = time.monotonic() + ACTIVE_S

    def _settle(self) -> None:
        """After callback work: the model holds what it changed; `serve` looks at the connections."""
        self._flush()
        self._pacer.drain()
        self._wake.set()

    def _stop_listening(self) -> None:
        if self._started:
            self._started = False
            self._guard.stop()
            (lib.IedServer_stop if self.threaded else lib.IedServer_stopThreadless)(self._server)

    def stop(self) -> None:
        """Make `serve()` return."""
        self._stopping = True
        self._wake.set()

    def close(self) -> None:
        """Free the server and its model; the server must not be serving any more."""
        if self._closed:
            return
        self._closed = True
        self._pacer.cancel()
        self._hop.close()
        self._stop_listening()
        if self.handlers is not None:
            self.handlers.release()
        self._creation.close()

    def update(self, ref: str, value: Scalar, quality_good: bool, timestamp: datetime) -> None:
        """Mirror one value with its quality and time (see `ModelMirror.update`)."""
        if not self._closed:
            self.mirror.update(ref, value, quality_good, timestamp)
            self._stay_active()

    def mirror_from(self, flush: Callable[[], None]) -> None:
        """`flush()` submits the changes not mirrored yet: called before a client's write is answered."""
        self._flush = flush

    def preload(self, updates: Iterable[Update]) -> None:
        """Mirror values before serving (see `ModelMirror.preload`); those this model lacks are skipped."""
        for update in updates:
            self._mirror_one(update, self.mirror.preload)

    def submit(self, updates: Iterable[Update]) -> None:
        """Mirror values in order, in slices between scheduler instants (see `Pacer`).

        Values this model lacks are skipped.
        """
        if not self._closed:
            self._pacer.submit(updates)

    def _mirror_one(self, update: Update, mirror: _Mirror | None = None) -> None:
        try:
            (mirror or self.update)(update.ref, update.value, update.quality_good, update.timestamp)
        except (KeyError, TypeError, ValueError) as exc:  # an attribute this SCL does not serve
            log.debug("not mirrored", ref=update.ref, error=str(exc))


def _raise_if_failed(front: asyncio.Task[None] | None) -> None:
    """The TLS listener failed: so does the server."""
    if front is not None and front.done():
        front.result()
