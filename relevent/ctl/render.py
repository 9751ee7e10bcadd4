"""Output of relevent-ctl: aligned tables for people, JSON documents (or JSON lines) for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from relevent.ctl.client import Scalar
from relevent.ctl.ops import RemoteScheduleStatus, RemoteStatus
from relevent.ctl.readings import Reading, reading
from relevent.ctl.reports import Report
from relevent.refs import from_mms, without_ld
from relevent.scheduler.forecast import ForecastPoint


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [headers, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def iso(t: datetime | float | None) -> str | None:
    """A UTC time as ISO 8601 with milliseconds and `Z`; None stays None."""
    if t is None:
        return None
    moment = datetime.fromtimestamp(t, UTC) if isinstance(t, float | int) else t.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_scalar(value: Scalar | None) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def _text(value: Scalar | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return iso(value) or "-"
    return str(value)


def _shown(item: Reading) -> str:
    """A reading for a table: the value, and the validity when it is not good."""
    return _text(item.value) if item.good else f"{_text(item.value)} ({item.validity})"


def _reading_json(item: Reading) -> dict[str, Any]:
    return {"value": _json_scalar(item.value), "quality": item.validity, "t": iso(item.t)}


# ---- status -------------------------------------------------------------------------------------------


def status_text(status: RemoteStatus) -> str:
    """Controllers first, then every schedule."""
    controllers = table(
        ["CONTROLLER", "ACTIVE SCHEDULE", "OUTPUT", "SINCE"],
        [
            [
                without_ld(c.ref),
                without_ld(str(c.active.value or "")) or "-",
                _shown(c.output),
                iso(c.output.t) or "-",
            ]
            for c in status.controllers
        ],
    )
    schedules = table(
        ["SCHEDULE", "STATE", "PRIO", "ENTRY", "INTERVAL", "VALUE", "NEXT START", "ENA ERR"],
        [_schedule_row(s) for s in status.schedules],
    )
    return f"{controllers}\n\n{schedules}"


def _next_start(s: RemoteScheduleStatus) -> str | None:
    """NxtStrTm when it is valid (it is invalid while no start lies ahead)."""
    value = s.next_start.value
    return iso(value) if isinstance(value, datetime) and s.next_start.good else None


def _schedule_row(s: RemoteScheduleStatus) -> list[str]:
    return [
        without_ld(s.ref),
        s.state,
        _text(s.prio),
        f"{_text(s.entry)}/{_text(s.num_entr)}",
        f"{_text(s.interval)} s",
        _text(s.output.value) if s.output.good else "-",
        _next_start(s) or "-",
        _text(s.ena_err),
    ]


def status_json(status: RemoteStatus) -> dict[str, Any]:
    """The status as one JSON document."""
    return {
        "controllers": [
            {
                "ref": c.ref,
                "active_schedule": c.active.value or None,
                "output": _reading_json(c.output),
                "schedules": list(c.schedules),
            }
            for c in status.controllers
        ],
        "schedules": [
            {
                "ref": s.ref,
                "state": s.state,
                "prio": s.prio,
                "entry": s.entry,
                "num_entr": s.num_entr,
                "interval_s": s.interval,
                "output": _reading_json(s.output),
                "next_start": _next_start(s),
                "schd_ena_err": s.ena_err,
            }
            for s in status.schedules
        ],
    }


# ---- forecast -----------------------------------------------------------------------------------------


def forecast_text(points: Sequence[ForecastPoint]) -> str:
    """One row per change of the output."""
    return table(
        ["FROM", "VALUE", "SCHEDULE", "PRIO"],
        [
            [iso(p.time) or "-", _text(p.value), without_ld(p.source or "-"), _text(p.priority)]
            for p in points
        ],
    )


def forecast_json(controller: str, points: Sequence[ForecastPoint]) -> dict[str, Any]:
    """The forecast as one JSON document."""
    return {
        "controller": controller,
        "points": [
            {"time": iso(p.time), "value": p.value, "schedule": p.source, "prio": p.priority} for p in points
        ],
    }


# ---- reports ------------------------------------------------------------------------------------------


def report_lines(report: Report) -> list[str]:
    """One line per reported member: arrival time, member, value (validity), its t and the reason."""
    received = iso(report.received)
    lines = []
    for entry in report.entries:
        item = reading(entry.value)
        lines.append(
            f"{received}  {from_mms(entry.ref)}  {_shown(item)}  t={iso(item.t) or '-'}  {entry.reason}"
        )
    return lines


def report_json(report: Report) -> dict[str, Any]:
    """One report as one JSON document (printed as a JSON line)."""
    return {
        "rcb": report.rcb,
        "seq_num": report.seq_num,
        "received": iso(report.received),
        "entries": [
            {"ref": from_mms(e.ref), "reason": e.reason, **_reading_json(reading(e.value))}
            for e in report.entries
        ],
    }
