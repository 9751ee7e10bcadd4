"""The pure core: driven by plain `now` values, no loop, store or clock; what it returns is all it did."""

from __future__ import annotations

import ast
from pathlib import Path

from relevent.scheduler.commands import Actor, Program
from relevent.scheduler.core import Core
from relevent.scheduler.events import AttributeChanged, AttributeValue, OutputChanged
from relevent.scheduler.restore import StoredState

from .factory import BASE, ln, small_spec

S1 = ln("F_FSCH01")
FSCC = ln("F_FSCC1")
EMS = Actor("mqtt-ems", "site/ems/request")
PURE = "relevent.scheduler.core"
# What the core must not reach: the event loop, the store, the wall clock, the network, the logs.
IMPURE = {
    "asyncio", "sqlite3", "time", "socket", "logging", "structlog",
    "relevent.scheduler.store", "relevent.scheduler.clock",
}


def _started(now: float = BASE) -> Core:
    core = Core(small_spec())
    core.start(StoredState(), now)
    return core


def _value(core: Core, ref: str) -> object:
    read = core.read(ref)
    assert isinstance(read, AttributeValue), read
    return read.value


def _programmed(core: Core) -> None:
    change = core.program_slots({S1: Program((1.0, 2.0), 60, 10, BASE + 60)}, {}, EMS, BASE)
    core.apply(change, BASE)


def test_start_returns_every_object_to_store_and_no_deadline() -> None:
    core = Core(small_spec())
    started = core.start(StoredState(), BASE)
    assert {r.ref for r in started.rows.schedules} == {ln(f"F_FSCH0{i}") for i in (1, 2, 3)}
    assert [r.ref for r in started.rows.controllers] == [FSCC]
    assert core.next_instant() is None


def test_start_returns_what_it_dropped_as_notes_for_the_runtime_to_log() -> None:
    core = Core(small_spec())
    stored = StoredState(unreadable={S1: "set_tm out of range"})
    started = core.start(stored, BASE)
    assert started.dropped == {S1: "set_tm out of range"}
    assert [(n.event, n.ref, dict(n.detail)) for n in started.notes] == [
        ("stored state unreadable, dropped", S1, {"problem": "set_tm out of range"})
    ]


def test_a_decided_change_changes_nothing_until_it_is_applied() -> None:
    core = _started()
    before = core.snapshot()
    change = core.program_slots({S1: Program((1.0, 2.0), 60, 10, BASE + 60)}, {}, EMS, BASE)
    assert [r.ref for r in change.rows.schedules] == [S1]  # what the runtime stores first
    assert core.snapshot() == before
    assert core.next_instant() is None
    events = core.apply(change, BASE)
    assert AttributeChanged(f"{S1}.SchdSt.stVal", 3, quality_good=True, timestamp=BASE) in events  # ready
    assert core.next_instant() == BASE + 60


def test_a_late_advance_processes_each_instant_at_its_nominal_time() -> None:
    core = _started()
    _programmed(core)
    outcome = core.advance(BASE + 500)
    outputs = [(e.timestamp, e.value) for e in outcome.events if isinstance(e, OutputChanged)]
    assert outputs == [(BASE + 60, 1.0), (BASE + 120, 2.0), (BASE + 180, None)]
    assert [r.ref for r in outcome.rows.schedules] == [S1]  # the consumed start time
    assert core.now == BASE + 500
    assert core.next_instant() is None


def test_a_deferred_boundary_returns_its_outputs_and_keeps_its_status_pending() -> None:
    core = _started()
    _programmed(core)
    outcome = core.advance(BASE + 60, defer_status=True)
    assert outcome.deferred
    assert [type(e) for e in outcome.events] == [OutputChanged]
    assert core.read(f"{S1}.ValMV.mag.f") == AttributeValue(0.0, quality_good=False, timestamp=BASE)
    finished = core.finish_pending()
    assert (
        AttributeChanged(f"{S1}.ValMV.mag.f", 1.0, quality_good=True, timestamp=BASE + 60) in finished.events
    )
    assert core.finish_pending().events == []


def test_a_jump_re_evaluates_every_schedule_at_the_new_time() -> None:
    core = _started()
    _programmed(core)
    outcome = core.jump_to(BASE + 150)  # a wall-clock step into the second entry
    outputs = [(e.timestamp, e.value) for e in outcome.events if isinstance(e, OutputChanged)]
    assert outputs == [(BASE + 150, 2.0)]
    assert core.next_instant() == BASE + 180


def test_the_core_reaches_no_loop_store_or_clock() -> None:
    seen, todo, reached = set(), [PURE], set()
    root = Path(__file__).resolve().parents[2]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse((root / (module.replace(".", "/") + ".py")).read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )  # fmt: skip
            for name in names:
                reached.add(name)
                if name.startswith("relevent.") and name != "relevent.scheduler":
                    todo.append(name)
    assert PURE in seen
    assert len(seen) > 10  # the walk follows the core's own modules
    assert not reached & IMPURE
