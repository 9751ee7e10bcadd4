"""The rules of `ConnectionAdmission` and `AuthThrottle` on their own (issue #16); the real server is in
test_admission.py."""

from __future__ import annotations

import pytest
import structlog

from relevent.wan.mms.admission import IN_PROGRESS_S, ConnectionAdmission, ConnectionLimits
from relevent.wan.mms.throttle import AuthThrottle, ThrottleSettings

DSO = ConnectionLimits(priority=frozenset({"dso"}))  # 5 slots, 2 per host and actor, 1 reserved


def test_a_host_gets_per_peer_connections_and_no_more() -> None:
    admission: ConnectionAdmission[int] = ConnectionAdmission(DSO)
    assert admission.opened(1, "a") == []
    assert admission.opened(2, "a") == []
    assert admission.opened(3, "a") == [(3, "peer_limit")]
    assert admission.opened(4, "b") == []  # the refused one counts for nothing
    admission.closed(1)
    assert admission.opened(5, "a") == []


def test_the_last_slot_stays_free_by_closing_a_silent_connection_or_the_host_that_keeps_reopening() -> None:
    now = [0.0]
    limits = ConnectionLimits(per_peer=5)
    admission: ConnectionAdmission[int] = ConnectionAdmission(limits, clock=lambda: now[0])
    for key, host in enumerate("abc"):
        admission.opened(key, host)
        admission.associated(key, None)
    admission.opened(3, "silent")
    now[0] = IN_PROGRESS_S + 0.1
    assert admission.opened(4, "scada") == [(3, "evicted")]  # had its time to associate
    admission.closed(3)
    assert admission.opened(5, "silent") == [(5, "evicted")]  # reopens: its own, not scada's in progress
    admission.closed(5)
    assert admission.opened(6, "silent") == [(6, "evicted")]
    admission.closed(6)
    assert admission.associated(4, "scada") is None


def test_actors_are_held_to_their_limit_and_others_leave_the_reserved_slot_free() -> None:
    limits = ConnectionLimits(per_peer=5, per_actor=3, priority=frozenset({"dso"}))
    admission: ConnectionAdmission[int] = ConnectionAdmission(limits)
    for key, host in enumerate("abcd"):
        admission.opened(key, host)
    assert [admission.associated(key, "market") for key in (0, 1)] == [None, None]
    assert admission.associated(2, None) is None  # anonymous counts as not priority: 3 of 4
    assert not admission.may_associate("market")
    assert admission.associated(3, "market") == "actor_limit"
    admission.closed(3)
    admission.opened(4, "e")
    assert admission.may_associate("dso")
    assert admission.associated(4, "dso") is None  # the 4th association: the slot kept for it


def test_an_actor_over_its_own_limit_is_refused() -> None:
    admission: ConnectionAdmission[int] = ConnectionAdmission(DSO)
    for key, host in enumerate("abc"):
        admission.opened(key, host)
    assert admission.associated(0, "dso") is None
    assert admission.associated(1, "dso") is None
    assert admission.associated(2, "dso") == "actor_limit"


def test_failed_authentications_refuse_a_host_for_a_doubling_delay_and_log_in_aggregate() -> None:
    now = [0.0]
    failures: list[None] = []
    settings = ThrottleSettings(delay_s=1.0, max_delay_s=8.0)
    throttle = AuthThrottle(settings, on_failure=lambda: failures.append(None), clock=lambda: now[0])
    with structlog.testing.capture_logs() as logs:
        for expected_delay in (1.0, 2.0, 4.0, 8.0, 8.0):
            throttle.failed("guesser")
            assert throttle.refuses("guesser")
            assert not throttle.refuses("scada")  # per host
            now[0] += expected_delay - 0.01
            assert throttle.refuses("guesser")
            now[0] += 0.01
            assert not throttle.refuses("guesser")
        now[0] += 8.0  # quiet for the longest delay: forgotten
        throttle.failed("guesser")
        now[0] += 1.0
        assert not throttle.refuses("guesser")
    assert len(failures) == 6
    counts = [line["failures"] for line in logs if line["event"] == "mms association refused"]
    assert counts == [1, 2, 4, 1]  # five failures in a row: three lines; a new streak starts anew


@pytest.mark.parametrize("host", ["a", "b"])
def test_a_closed_connection_frees_its_slot_and_its_actor(host: str) -> None:
    admission: ConnectionAdmission[int] = ConnectionAdmission(DSO)
    admission.opened(1, host)
    admission.associated(1, "dso")
    admission.opened(2, host)
    admission.associated(2, "dso")
    assert not admission.may_associate("dso")
    admission.closed(1)
    assert admission.may_associate("dso")
