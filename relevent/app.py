"""The composition root: configuration -> SCL model -> services, run in one TaskGroup until a signal."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import structlog

from relevent import __version__
from relevent.config import Settings
from relevent.errors import ConfigError
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
    try:
        async with asyncio.TaskGroup():
            log.info("gateway running")
            await stop.wait()
            raise _Shutdown  # noqa: TRY301 - the way out of a TaskGroup that cancels every service
    except* _Shutdown:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("gateway stopped")

