"""Delivery of the scheduler's events to its subscribers (the runtime's part: it logs their failures)."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from relevent.scheduler.events import Event, Subscriber

_log = structlog.get_logger(__name__)


class EventBus:
    """Calls every subscriber, in subscription order, on the loop; one failing subscriber harms no other."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register `callback`; return a function that unregisters it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def emit(self, event: Event) -> None:
        """Deliver one event to every subscriber."""
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - an adapter's bug must not stop the scheduler
                _log.exception("subscriber failed", failed_event=event)
