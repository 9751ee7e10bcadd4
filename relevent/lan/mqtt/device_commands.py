"""A device's intent -> its `ctl/set` command, stamped when it is published."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from uuid import uuid4

from relevent.lan.driver import DeviceIntent
from relevent.lan.mqtt.payloads import Command, CommandSources, Source, utc


class CommandFactory:
    """Builds each device's commands: a fresh id, the device's next `seq`, `valid_until` = now + validity.

    Stamped at publication, not when the intent was issued: a command re-sent after a reconnect or a
    device coming online is a new command with the whole validity ahead.
    """

    def __init__(self, validity_s: float, clock: Callable[[], float]) -> None:
        self._validity_s = validity_s
        self._clock = clock
        self._seq: dict[str, itertools.count[int]] = {}

    def build(self, intent: DeviceIntent) -> Command:
        """The command carrying `intent`'s fields and their sources."""
        now = self._clock()
        seq = self._seq.setdefault(intent.device_id, itertools.count())
        fields = intent.fields
        sources = {name: Source(schedule=s.schedule, prio=s.priority) for name, s in intent.sources.items()}
        return Command(
            id=uuid4(),
            seq=next(seq),
            ts=utc(now),
            valid_until=utc(now + self._validity_s),
            w_set=fields.w_set,
            w_max_lim=fields.w_max_lim,
            on=fields.on,
            src=CommandSources(**sources),
        )
