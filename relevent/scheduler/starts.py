"""Start times (`StrTmNN`): a one-shot `setTm`, or a periodic `setCal` whose occurrences begin at `setTm`."""

from __future__ import annotations

from dataclasses import dataclass

from relevent.scheduler.periodic import CalendarTime, occurrence_after, occurrence_at_or_before
from relevent.scheduler.values import NOT_SET, Timestamp


@dataclass(frozen=True)
class StartTime:
    """One `StrTmNN`. `cal` is None for a one-shot start time (a DO without `setCal`).

    A periodic start time occurs at every calendar match at or after `set_tm`; `set_tm == 0` clears either
    kind (the reference models use `1970-01-01T00:00:01Z` for "always").
    """

    set_tm: Timestamp = NOT_SET
    cal: CalendarTime | None = None

    @property
    def is_set(self) -> bool:
        """Return whether this start time takes part in scheduling."""
        return self.set_tm != NOT_SET

    @property
    def periodic(self) -> bool:
        """Return whether this start time repeats by its calendar."""
        return self.cal is not None

    def cleared(self) -> StartTime:
        """Return this start time consumed: `setTm` reads back 0, the calendar stays."""
        return StartTime(NOT_SET, self.cal)

    def next_after(self, t: Timestamp) -> Timestamp | None:
        """Return the first occurrence strictly after `t`, or None."""
        if not self.is_set:
            return None
        if self.cal is None:
            return self.set_tm if self.set_tm > t else None
        if t < self.set_tm:
            first = occurrence_at_or_before(self.cal, self.set_tm)
            return first if first == self.set_tm else occurrence_after(self.cal, self.set_tm)
        return occurrence_after(self.cal, t)

    def latest_at_or_before(self, t: Timestamp) -> Timestamp | None:
        """Return the last occurrence at or before `t`, or None."""
        if not self.is_set or t < self.set_tm:
            return None
        if self.cal is None:
            return self.set_tm
        latest = occurrence_at_or_before(self.cal, t)
        return latest if latest >= self.set_tm else None
