"""`relevent-gw audit show`: the trail as lines a person reads, from a time a person types."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from relevent.obs.audit_store import AuditRow, iso_time

# An age: `-2h`, `-30m`, `-7d`, `-90s`, also `2h` and `2h ago`.
AGE = re.compile(r"^-?(\d+)\s*([smhd])(?:\s+ago)?$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SINCE_FORMS = (
    "an ISO 8601 date or time (UTC if naive), today, yesterday (from 00:00 UTC), or an age: -2h, -30m, -7d"
)


def since_time(text: str, now: datetime | None = None) -> str:
    """The audit's time text of a `--since` value (see `SINCE_FORMS`); ValueError says what is accepted."""
    now = now or datetime.now(UTC)
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        moment = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=word == "yesterday")
    elif age := AGE.match(word):
        moment = now - timedelta(seconds=int(age[1]) * _SECONDS[age[2]])
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a time: use {SINCE_FORMS}") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return iso_time(moment.timestamp())


def audit_line(row: AuditRow) -> str:
    """`seq time actor protocol peer command object old -> new result (reason)`."""
    e = row.entry
    why = f" ({e.reason})" if e.reason else ""
    old, new = shown_value(e.object, e.old), shown_value(e.object, e.new)
    return (f"{row.seq} {e.time} {e.actor or '-'} {e.protocol} {e.peer} {e.command} {e.object} "
            f"{old} -> {new} {e.result}{why}")  # fmt: skip


def shown_value(obj: str, text: str) -> str:
    """A start time (`StrTmNN.setTm`, epoch seconds in the trail) as ISO 8601 UTC; anything else as stored."""
    if not obj.endswith(".setTm"):
        return text
    try:
        value = json.loads(text)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return text
        return datetime.fromtimestamp(value, UTC).isoformat()
    except (ValueError, OverflowError, OSError):  # not JSON, or beyond the calendar: shown as stored
        return text
