"""The gateway's state as one JSON document, for the status page (`/api/status`)."""

from __future__ import annotations

import json
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from relevent import __version__
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, AttributeValue, Event, OutputChanged
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.spec import ControllerSpec
from relevent.scheduler.values import ValueType
from relevent.timing import SLICE_S
from relevent.turns import Slices

# The status page's timeline windows: the actual output that far back, the forecast that far ahead.
WINDOWS_S = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
DEFAULT_WINDOW = "24h"
HISTORY_LIMIT = 20_000  # output changes kept per controller (a change per second lasts 5.5 h of the 7 d)
Change = tuple[float, Any, str | None, int | None]  # an output change: time, value, source, priority
# The schedule attributes the page shows: reference suffix -> column.
# What a controller's output is in, by its factor to W (the model's `units`); on/off outputs have none.
_UNITS = {1.0: "W", 1e3: "kW", 1e6: "MW"}
_SCHEDULE_COLUMNS = {"SchdSt.stVal": "state", "SchdPrio.setVal": "priority", "SchdEntr.stVal": "entry"}


@dataclass(frozen=True)
class Sections:
    """The status document in parts, each as JSON.

    The gateway's head, the upstream side, and the lists (controllers, schedules, devices) as (key, item)
    in order: what a live feed compares and sends.
    """

    head: str
    upstream: str
    lists: dict[str, list[tuple[str, str]]]


class StatusView:
    """Controllers (output, unit, 24 h forecast), schedules (state, priority, entry, owner) and devices.

    The schedules' columns follow the engine's events (subscribed at construction, on the loop), the
    forecasts come from the engine's cache: a request reads no snapshot and, while no schedule changes,
    computes no forecast. `devices` renders the devices (their traces from a time on), `upstream`
    the upstream side (clients, links, actors).
    """

    def __init__(
        self,
        gateway_id: str,
        engine: Engine,
        devices: Callable[[float | None], list[dict[str, Any]]],
        clock: Callable[[], float] = time.time,
        upstream: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self._gateway_id = gateway_id
        self._upstream = upstream
        self._engine = engine
        self._devices = devices
        self._clock = clock
        self._schedules: list[dict[str, Any]] = []
        # The recent actual output of each controller (time, value, source, priority), oldest first.
        self._history: dict[str, list[Change]] = {}
        start = clock()
        for controller in engine.model.controllers:
            output = engine.output(controller.ref)
            first: Change = (start, None, None, None)
            if output is not None:
                first = (start, output.value, output.source, output.priority)
            self._history[controller.ref] = [first]
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
        elif isinstance(event, OutputChanged) and (history := self._history.get(event.controller)):
            history.append((event.timestamp, event.value, event.source, event.priority))
            if len(history) > HISTORY_LIMIT:
                del history[: len(history) - HISTORY_LIMIT]

    async def sections(self, window_s: float) -> Sections:
        """The document's parts, timelines `window_s` back and ahead, serialised in `SLICE_S` slices.

        At 100 devices the document holds 300 forecasts and 3300 schedules (over a megabyte of JSON, tens
        of milliseconds of work): in slices an entry boundary's commands never wait behind a whole page.
        """
        slices = Slices(SLICE_S)  # one budget across the lists: a list's first slice ends the last one's
        now = self._clock()
        head = json.dumps({"id": self._gateway_id, "version": __version__, "time": now, "window": window_s})
        controllers = await _json_items(
            ((c.ref, self._controller(c, now, window_s)) for c in self._engine.model.controllers), slices
        )
        owners = self._engine.intent_keys()  # slot -> "actor/key" of the intent it holds
        rows = ((row["ref"], {**row, "owner": _actor(owners.get(row["ref"]))}) for row in self._schedules)
        schedules = await _json_items(rows, slices)
        devices = await _json_items(((d["id"], d) for d in self._devices(now - window_s)), slices)
        lists = {"controllers": controllers, "schedules": schedules, "devices": devices}
        return Sections(head, json.dumps(self._upstream()), lists)

    async def render(self, window_s: float = WINDOWS_S[DEFAULT_WINDOW]) -> bytes:
        """The whole document (`/api/status`)."""
        parts = await self.sections(window_s)
        lists = ",".join(
            f'"{name}":[{",".join(item for _, item in items)}]' for name, items in parts.lists.items()
        )
        return f'{{"gateway":{parts.head},{lists},"upstream":{parts.upstream}}}'.encode()

    def summary_html(self, ready: bool) -> str:
        """The essentials as HTML for a browser without JavaScript: readiness, outputs, devices' health."""
        lines = [f"<p>{'ready' if ready else 'NOT READY'} · gateway {escape(self._gateway_id)}</p><ul>"]
        for controller in self._engine.model.controllers:
            output = self._engine.output(controller.ref)
            name = controller.ref.rpartition("/")[2]
            if output is None or output.value is None:
                shown = "no value"
            elif controller.value_type is ValueType.BOOL:
                shown = "on" if output.value else "off"
            else:
                shown = f"{output.value:g} {_UNITS.get(controller.to_si, '')}".strip()
            source = ""
            if output is not None and output.source:
                source = f" ({output.source.rpartition('/')[2]}, priority {output.priority})"
            lines.append(f"<li>{escape(name)}: {escape(shown)}{escape(source)}</li>")
        lines.append("</ul><ul>")
        lines += [f"<li>device {escape(str(d.get('id')))} ({escape(str(d.get('protocol')))}): "
                  f"{escape(str(d.get('health')))}</li>" for d in self._devices(None)]  # fmt: skip
        lines.append("</ul>")
        return "".join(lines)

    def _controller(self, controller: ControllerSpec, now: float, window_s: float) -> dict[str, Any]:
        output = self._engine.output(controller.ref)
        since = now - window_s
        history = self._history[controller.ref]
        # the change in force at the window's start, then every change within it
        first = max(0, bisect_right(history, since, key=_time) - 1)
        past = [{"time": max(t, since), "value": v, "source": s, "priority": p}
                for t, v, s, p in history[first:]]  # fmt: skip
        return {
            "ref": controller.ref,
            "unit": None if controller.value_type is ValueType.BOOL else _UNITS.get(controller.to_si, ""),
            "value": output.value if output else None,
            "source": output.source if output else None,
            "priority": output.priority if output else None,
            "history": past,
            "forecast": _points(self._engine.forecast(controller.ref, now, now + window_s)),
        }


def _time(change: Change) -> float:
    return change[0]


def _actor(key: str | None) -> str | None:
    """The actor of an intent key (`dso/iec104:...` -> `dso`); None for a slot no intent holds."""
    return None if key is None else key.partition("/")[0]


def _points(points: Sequence[ForecastPoint]) -> list[dict[str, Any]]:
    return [{"time": p.time, "value": p.value, "source": p.source, "priority": p.priority} for p in points]


async def _json_items(items: Iterable[tuple[str, object]], slices: Slices) -> list[tuple[str, str]]:
    """Each (key, item) with the item as JSON, the loop turning whenever a slice is used up.

    `items` may be lazy: each is built and serialised as it comes, so a slice's time covers both.
    """
    parts: list[tuple[str, str]] = []
    for key, item in items:
        parts.append((key, json.dumps(item)))
        await slices.step()
    return parts
