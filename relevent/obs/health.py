"""Readiness of the gateway's parts, as `/readyz` reports it."""

from __future__ import annotations


class Readiness:
    """Named conditions (e.g. `scl_loaded`, `mms_listening`, `mqtt_connected`); ready when all are true."""

    def __init__(self) -> None:
        self._conditions: dict[str, bool] = {}

    def require(self, name: str) -> None:
        """Declare a condition that must become true before the gateway is ready."""
        self._conditions.setdefault(name, False)

    def set(self, name: str, *, ok: bool) -> None:
        """Record the current state of a condition."""
        self._conditions[name] = ok

    @property
    def ready(self) -> bool:
        """Whether every declared condition holds."""
        return all(self._conditions.values())

    def snapshot(self) -> dict[str, bool]:
        """A copy of every condition and its state."""
        return dict(self._conditions)
