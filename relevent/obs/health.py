"""Readiness of the gateway's parts, as `/readyz` reports it."""

from __future__ import annotations

from collections.abc import Callable


class Readiness:
    """Named checks (e.g. `scl_loaded`, `mms_listening`, `mqtt_connected`); ready when all pass."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], bool]] = {}

    def add(self, name: str, check: Callable[[], bool]) -> None:
        """Register a check, evaluated at every readiness query."""
        self._checks[name] = check

    def snapshot(self) -> dict[str, bool]:
        """Every check and whether it passes now."""
        return {name: bool(check()) for name, check in self._checks.items()}

    @property
    def ready(self) -> bool:
        """Whether every check passes."""
        return all(self.snapshot().values())
