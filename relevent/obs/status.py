"""The gateway's state as one JSON document, for the status page (`/api/status`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from relevent import __version__
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, AttributeValue, Event
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.spec import ControllerSpec
from relevent.scheduler.values import ValueType

FORECAST_HORIZON_S = 24 * 3600.0
# The loop turns whenever rendering took this long: at 100 devices the document holds 300 forecasts and
# 3300 schedules (~1.4 MB of JSON, ~60 ms of work, seconds when the forecasts must be computed); in slices
# an entry boundary's commands never wait behind a whole page.
SLICE_S = 0.003
# The schedule attributes the page shows: reference suffix -> column.
# What a controller's output is in, by its factor to W (the model's `units`); on/off outputs have none.
_UNITS = {1.0: "W", 1e3: "kW", 1e6: "MW"}
_SCHEDULE_COLUMNS = {"SchdSt.stVal": "state", "SchdPrio.setVal": "priority", "SchdEntr.stVal": "entry"}


class StatusView:
    """Controllers (output, unit, 24 h forecast), schedules (state, priority, entry, owner) and devices.

    The schedules' columns follow the engine's events (subscribed at construction, on the loop), the
    forecasts come from the engine's cache: a request reads no snapshot and, while no schedule changes,
    computes no forecast. `devices` renders the devices (the MQTT bridge's `device_status`).
    """

    def __init__(
        self,
        gateway_id: str,
        engine: Engine,
        devices: Callable[[], list[dict[str, Any]]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._gateway_id = gateway_id
        self._engine = engine
        self._devices = devices
        self._clock = clock
        self._schedules: list[dict[str, Any]] = []
        self._cells: dict[str, tuple[dict[str, Any], str]] = {}  # attribute reference -> (row, column)
        for schedule in engine.model.schedules:
            row: dict[str, Any] = {"ref": schedule.ref, "reserve": schedule.reserve}
            for suffix, column in _SCHEDULE_COLUMNS.items():
                ref = f"{schedule.ref}.{suffix}"
                current = engine.read(ref)
                row[column] = current.value if isinstance(current, AttributeValue) else None
                self._cells[ref] = (row, column)
            self._schedules.append(row)
        engine.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        """Keep the schedules' columns current (one dictionary look-up per attribute event)."""
        if isinstance(event, AttributeChanged) and (cell := self._cells.get(event.ref)) is not None:
            row, column = cell
            row[column] = event.value

    async def render(self) -> bytes:
        """The document as JSON, built in slices of `SLICE_S` (the loop turns in between)."""
        now = self._clock()
        gateway = json.dumps({"id": self._gateway_id, "version": __version__, "time": now})
        controllers = await _json_array(self._controller(c, now) for c in self._engine.model.controllers)
        owners = self._engine.intent_keys()  # slot -> "actor/key" of the intent it holds
        schedules = await _json_array(
            {**row, "owner": _actor(owners.get(row["ref"]))} for row in self._schedules
        )
        devices = json.dumps(self._devices())
        return (
            f'{{"gateway":{gateway},"controllers":{controllers},"schedules":{schedules},"devices":{devices}}}'
        ).encode()

    def _controller(self, controller: ControllerSpec, now: float) -> dict[str, Any]:
        output = self._engine.output(controller.ref)
        return {
            "ref": controller.ref,
            "unit": None if controller.value_type is ValueType.BOOL else _UNITS.get(controller.to_si, ""),
            "value": output.value if output else None,
            "source": output.source if output else None,
            "priority": output.priority if output else None,
            "forecast": _points(self._engine.forecast(controller.ref, now, now + FORECAST_HORIZON_S)),
        }


def _actor(key: str | None) -> str | None:
    """The actor of an intent key (`dso/iec104:...` -> `dso`); None for a slot no intent holds."""
    return None if key is None else key.partition("/")[0]


def _points(points: Sequence[ForecastPoint]) -> list[dict[str, Any]]:
    return [{"time": p.time, "value": p.value, "source": p.source, "priority": p.priority} for p in points]


async def _json_array(items: Iterable[object]) -> str:
    """`json.dumps(list(items))`, the loop turning whenever a slice took `SLICE_S` (`items` may be lazy)."""
    slices: list[str] = []
    chunk: list[object] = []
    began = time.perf_counter()
    for item in items:
        chunk.append(item)
        if time.perf_counter() - began > SLICE_S:
            slices.append(json.dumps(chunk)[1:-1])
            chunk = []
            await asyncio.sleep(0)
            began = time.perf_counter()
    if chunk:
        slices.append(json.dumps(chunk)[1:-1])
    return f"[{','.join(slices)}]"
