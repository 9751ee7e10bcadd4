"""A device's trace keeps changes only, bounded, and hands the page a window led by the step in force."""

from __future__ import annotations

from relevent.lan.trace import SHOWN_POINTS, STEADY_S, DeviceTrace


def test_only_changes_and_a_steady_minute_are_kept() -> None:
    trace = DeviceTrace()
    for t in range(10):
        trace.measure(100.0 + t, 500.0)  # steady: once
    trace.measure(110.0, 700.0)
    trace.measure(110.0 + STEADY_S, 700.0)  # a minute later the steady value again
    trace.ask(100.0, -2000.0, None)
    trace.ask(101.0, -2000.0, None)
    trace.ask(102.0, -2000.0, 5000.0)
    assert trace.since(0.0) == {
        "measured": [[100.0, 500.0], [110.0, 700.0], [170.0, 700.0]],
        "asked": [[100.0, -2000.0, None], [102.0, -2000.0, 5000.0]],
    }


def test_a_window_starts_with_the_step_in_force_at_its_start() -> None:
    trace = DeviceTrace()
    for t, w in ((0.0, 1.0), (10.0, 2.0), (20.0, 3.0)):
        trace.measure(t, w)
    assert trace.since(15.0)["measured"] == [[10.0, 2.0], [20.0, 3.0]]
    assert trace.since(25.0)["measured"] == [[20.0, 3.0]]  # nothing newer: the value holding now


def test_memory_and_what_the_page_gets_are_bounded() -> None:
    trace = DeviceTrace(limit=500)
    for t in range(1000):
        trace.measure(float(t), float(t))
    shown = trace.since(0.0)["measured"]
    assert len(shown) <= SHOWN_POINTS
    assert shown[-1] == [999.0, 999.0]  # the newest always
    assert shown[0][0] >= 500.0  # the oldest half is gone
