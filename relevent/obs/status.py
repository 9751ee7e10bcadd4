"""The gateway's state as one JSON document, for the status page (`/api/status`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from relevent import __version__
from relevent.lan.mqtt.view import DeviceView
from relevent.scheduler.engine import Engine
from relevent.scheduler.slots import Slots

FORECAST_HORIZON_S = 24 * 3600.0


def gateway_status(
    gateway_id: str, engine: Engine, devices: Iterable[DeviceView], clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """Controllers (output and 24 h forecast), schedules (state, priority, entry) and devices."""
    now = clock()
    controllers = []
    for controller in engine.model.controllers:
        output = engine.output(controller.ref)
        controllers.append({
            "ref": controller.ref,
            "value": output.value if output else None,
            "source": output.source if output else None,
            "priority": output.priority if output else None,
            "forecast": [asdict(p) for p in engine.forecast(controller.ref, now, now + FORECAST_HORIZON_S)],
        })
    schedules = [asdict(view) for view in Slots(engine).schedules()]
    return {
        "gateway": {"id": gateway_id, "version": __version__, "time": now},
        "controllers": controllers,
        "schedules": schedules,
        "devices": [d.as_json() for d in devices],
    }
