"""HEDERA's answers read leniently: the own inter-tie by mRID, parents as a per-slot cap, units scaled."""

from __future__ import annotations

import json

import pytest

from relevent.demo.hedera_server import Script, explicit
from relevent.wan.hedera.codec import HederaProtocolError, ScheduleState, parse_time, schedule_answer
from tests.conftest import ReferenceDir
from tests.hedera.conftest import SLOTS, Rigs
from tests.scheduler.factory import BASE

pytestmark = pytest.mark.looptime(start=0)

OWN = "12345678-1234-1234-1234-123456789012"


def test_an_answer_in_kw_with_a_parent_first_and_positions_out_of_order(reference_dir: ReferenceDir) -> None:
    body = json.loads(reference_dir.file("hedera/examples/schedule-get-accepted-parent-kW.json").read_text())
    answer = schedule_answer(body, OWN)
    assert answer.state is ScheduleState.ACCEPTED
    assert answer.schedule_id == "c033d9b1-330a-49a7-b88c-e26536725cd8"
    assert answer.grant is not None
    assert answer.grant.values == pytest.approx((42.0, 900.0))  # own 42 W and 1 kW, the parent caps at 0.9 kW
    assert answer.grant.resolution_s == 900
    assert answer.grant.start == parse_time("2024-01-09T13:37:00Z")
    [directive] = answer.directives
    assert directive.end - directive.start == 300


@pytest.mark.parametrize("name", ["schedule-get-pending.json", "schedule-get-declined.json",
                                  "schedule-get-cancelled.json", "schedule-get-accepted.json"])  # fmt: skip
def test_every_example_answer_is_read(reference_dir: ReferenceDir, name: str) -> None:
    body = json.loads(reference_dir.file(f"hedera/examples/{name}").read_text())
    assert schedule_answer(body, OWN).state.value in name.title().replace("-", "")


@pytest.mark.parametrize(("text", "expected"), [("2022-12-06T09:00Z", 1670317200.0),
                                                ("2022-12-06T10:00:00.000+01:00", 1670317200.0),
                                                ("2022-12-06T09:00:00", 1670317200.0)])  # fmt: skip
def test_date_times_with_or_without_seconds_fraction_and_offset(text: str, expected: float) -> None:
    assert parse_time(text) == expected


def test_a_limit_in_ampere_is_refused() -> None:
    body = {"schedule": {"mRID": "s", "@type": "Accepted", "registeredInterTies": [{
        "mRID": OWN, "timeSeries": {"period": {"resolution": "PT5M", "timeInterval": {
            "start": "2024-01-09T13:00Z", "end": "2024-01-09T13:05Z"}},
            "quantity": {"unitMultiplier": "none", "unitSymbol": "A"}, "points": []}}]}}  # fmt: skip
    with pytest.raises(HederaProtocolError, match="not W"):
        schedule_answer(body, OWN)


async def test_a_grant_in_kw_with_a_gap_and_a_lower_parent_is_applied_per_slot_in_w(rigs: Rigs) -> None:
    rig = await rigs()
    parent = explicit({0: 3.0, 1: 3.0, 2: 0.5})
    rig.fake.script(Script(polls=0, multiplier="k", points=explicit({2: 2.0, 0: 4.0}), parent=parent))
    rig.request([4000.0, 4000.0, 4000.0], start=BASE + 3600)
    accepted = await rig.published.wait_for("accepted")
    assert accepted["granted"]["values"] == [3000.0, None, 500.0]  # position 1 missing: firm capacity
    assert rig.slot_values(SLOTS[0], 3) == [3.0, 1.0, 0.5]
