"""A running engine on looptime's fake loop time, with a recorder of its events and command helpers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from relevent.scheduler.commands import Accepted, Actor, CommandResult, Rejected
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, AttributeValue, CommandHandled, Event, OutputChanged
from relevent.scheduler.policy import UNRESTRICTED, Rights, SchedulePolicy
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.store import SqliteStore, StoreError

from .factory import BASE

SCADA = Actor("mms", "192.0.2.10:50123", "operator")


class FakeClock:
    """Wall time = loop time (fake under looptime) + a shift to `base` + `offset` (a simulated NTP step).

    Tests start looptime's loop at 0 (`looptime(start=0)`), so the shift is a whole number of seconds and a
    timer armed for a nominal instant fires at exactly that fake instant (looptime rounds to 1 us).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, base: float) -> None:
        self._loop = loop
        self._shift = base - loop.time()
        self.offset = 0.0

    def now(self) -> float:
        return self._loop.time() + self._shift + self.offset


@dataclass
class Recorder:
    """Every model event the engine emitted, with the wall time at which it was emitted; command audits
    go to `commands`."""

    clock: FakeClock
    events: list[tuple[float, Event]] = field(default_factory=list)
    commands: list[CommandHandled] = field(default_factory=list)
    _waiters: list[tuple[Callable[[Event], bool], asyncio.Future[Event]]] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        if isinstance(event, CommandHandled):
            self.commands.append(event)
            return
        self.events.append((self.clock.now(), event))
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)

    def timeline(
        self, controller: str | None = None
    ) -> list[tuple[float, float | bool | int | None, str | None]]:
        """Output changes as (seconds after BASE, value, LN name of the source)."""
        return [
            (o.timestamp - BASE, o.value, o.source.rpartition("/")[2] if o.source else None)
            for o in self.outputs(controller)
        ]

    def outputs(self, controller: str | None = None) -> list[OutputChanged]:
        return [
            e for _, e in self.events if isinstance(e, OutputChanged) and controller in (None, e.controller)
        ]

    def changes(self, ref: str) -> list[AttributeChanged]:
        return [e for _, e in self.events if isinstance(e, AttributeChanged) and e.ref == ref]

    def clear(self) -> None:
        self.events.clear()

    async def wait_for(self, predicate: Callable[[Event], bool], limit: float) -> Event:
        """Wait (in loop time) for the next event matching `predicate`."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, limit)
        finally:
            self._waiters.remove(entry)


@dataclass
class Harness:
    engine: Engine
    clock: FakeClock
    recorder: Recorder
    store: SqliteStore
    store_path: Path
    model: ModelSpec
    policies: Mapping[str, SchedulePolicy] | None
    dropped: Mapping[str, str]  # what the start dropped from the store, and why

    def write(self, ref: str, value: object) -> CommandResult:
        return self.engine.write(ref, value, SCADA)

    def operate(self, ref: str, ctl_val: bool = True, test: bool = False) -> CommandResult:
        return self.engine.operate(ref, ctl_val, test, SCADA)

    def enable(self, schedule: str) -> CommandResult:
        return self.operate(f"{schedule}.EnaReq")

    def disable(self, schedule: str) -> CommandResult:
        return self.operate(f"{schedule}.DsaReq")

    def program(
        self,
        schedule: str,
        *,
        values: Sequence[float | bool | int],
        intv: int,
        prio: int,
        starts: Sequence[float],
        reuse: bool = False,
        enable: bool = True,
    ) -> CommandResult:
        """Write a complete schedule and (optionally) enable it; every write must be accepted."""
        spec = next(s for s in self.model.schedules if s.ref == schedule)
        writes: list[tuple[str, object]] = [
            *(
                (f"{schedule}.{name}.{spec.kind.value_da}", v)
                for name, v in zip(spec.value_names, values, strict=False)
            ),
            (f"{schedule}.NumEntr.setVal", len(values)),
            (f"{schedule}.SchdIntv.setVal", intv),
            (f"{schedule}.SchdPrio.setVal", prio),
            (f"{schedule}.SchdReuse.setVal", reuse),
            *((f"{schedule}.StrTm{i:02d}.setTm", t) for i, t in enumerate(starts, start=1)),
        ]
        for ref, value in writes:
            result = self.write(ref, value)
            assert isinstance(result, Accepted), (ref, value, result)
        return self.enable(schedule) if enable else Accepted()

    async def sleep_until(self, t: float) -> None:
        """Let fake time run until wall time `t`."""
        await asyncio.sleep(max(0.0, t - self.clock.now()))

    def read(self, ref: str) -> AttributeValue:
        result = self.engine.read(ref)
        assert not isinstance(result, Rejected), result
        return result

    def value(self, ref: str) -> object:
        return self.read(ref).value

    def restart(self, model: ModelSpec | None = None) -> Harness:
        """Stop this engine, close its store, start a new engine on the same database file."""
        self.stop()
        return start_engine(model or self.model, self.store_path, policies=self.policies, clock=self.clock)

    def stop(self) -> None:
        self.engine.stop()
        self.store.close()


class FaultyStore(SqliteStore):
    """A real store whose commits a test can hold (`gate`, open unless closed) or fail (`fail`)."""

    HOLD_S = 5.0  # a gate nobody opens fails the commit after this long

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def commit(self, *args: object, **kwargs: object) -> None:
        assert self.gate.wait(self.HOLD_S), "the test never opened the gate"
        if self.fail:
            raise StoreError("disk full")
        super().commit(*args, **kwargs)  # type: ignore[arg-type]


def faulty_store(h: Harness) -> FaultyStore:
    """Give the running engine a `FaultyStore` beside its own (in the same directory)."""
    store = FaultyStore(h.store_path.with_name("faulty.sqlite"))
    OPENED.append(store)
    h.engine._store = store
    return store


OPENED: list[SqliteStore] = []  # every store `start_engine` opened; `conftest` closes them after each test


def start_engine(
    model: ModelSpec,
    store_path: Path,
    *,
    policies: Mapping[str, SchedulePolicy] | None = None,
    rights: Rights = UNRESTRICTED,
    clock: FakeClock | None = None,
    base: float = BASE,
) -> Harness:
    """Build and start an engine on the running loop; wall time starts at `base`."""
    clock = clock or FakeClock(asyncio.get_running_loop(), base)
    store = SqliteStore(store_path)
    OPENED.append(store)
    engine = Engine(model, clock=clock, store=store, policies=policies, rights=rights)
    recorder = Recorder(clock)
    engine.subscribe(recorder)
    dropped = engine.start()
    return Harness(engine, clock, recorder, store, store_path, model, policies, dropped)
