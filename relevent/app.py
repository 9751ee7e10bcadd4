"""The composition root: configuration -> SCL model -> services, run in one TaskGroup until a signal."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable

import structlog
from prometheus_client import CollectorRegistry

from relevent import __version__
from relevent.config import Settings
from relevent.errors import ConfigError, StartupError
from relevent.obs.health import Readiness
from relevent.obs.http import HttpEndpoint, build_app
from relevent.obs.systemd import run_watchdog, sd_notify, watchdog_period
from relevent.scl.model import SclDocument
from relevent.scl.parse import load

log = structlog.get_logger(__name__)


class _Shutdown(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the TaskGroup to cancel every service when a stop signal arrives."""


def describe_model(doc: SclDocument) -> dict[str, object]:
    """A one-line summary of a parsed model for the start-up log."""
    classes = Counter(ln.ln_class for _, _, ln in doc.logical_nodes())
    return {
        "scl": doc.path,
        "ieds": [ied.name for ied in doc.ieds],
        "ldevices": sum(len(ied.ldevices) for ied in doc.ieds),
        "schedules": classes.get("FSCH", 0),
        "controllers": classes.get("FSCC", 0),
        "logical_nodes": sum(classes.values()),
    }


def prepare(settings: Settings) -> SclDocument:
    """Everything that can fail before the loop starts: the state directory and the SCL model."""
    try:
        settings.storage.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        state_dir = settings.storage.state_dir
        raise ConfigError(f"state directory {state_dir} is not usable: {exc.strerror}") from None
    return load(settings.scl.path)


async def serve(settings: Settings, doc: SclDocument) -> None:
    """Run the gateway until SIGINT or SIGTERM, then stop every service in order."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("gateway starting", version=__version__, gateway_id=settings.gateway.id, **describe_model(doc))
    registry = CollectorRegistry()
    readiness = Readiness()
    readiness.set("scl_loaded", ok=True)
    http = HttpEndpoint(build_app(readiness, registry), settings.http.host, settings.http.port)
    try:
        await _start(http.start(), f"HTTP endpoint {settings.http.host}:{settings.http.port}")
        async with asyncio.TaskGroup() as services:
            services.create_task(http.serve(), name="http")
            period = watchdog_period()
            if period is not None:
                services.create_task(run_watchdog(period, lambda: True), name="watchdog")
            sd_notify(f"READY=1\nSTATUS=serving {describe_model(doc)['schedules']} schedules")
            log.info("gateway running")
            await stop.wait()
            sd_notify("STOPPING=1")
            raise _Shutdown  # noqa: TRY301 - the way out of a TaskGroup that cancels every service
    except* _Shutdown:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("gateway stopped")


async def _start(starting: Awaitable[None], what: str) -> None:
    """Await a service's start; a refused bind becomes a `StartupError` that names the service."""
    try:
        await starting
    except OSError as exc:
        raise StartupError(f"{what} cannot start: {exc.strerror or exc}") from None
