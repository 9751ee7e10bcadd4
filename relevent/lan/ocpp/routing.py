"""The `ocpp` library's handler decorator with a type (the library has none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ocpp.routing import on as _on

Handler = TypeVar("Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[Handler], Handler]:
    """Route the station's (or CSMS's) `action` CALLs to the decorated method."""
    decorator: Callable[[Handler], Handler] = _on(action)
    return decorator
