"""The scenarios of hedera-adapter.md 13.9 against the fake HEDERA, on fake time."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from relevent.demo.hedera_server import Script
from tests.conftest import ReferenceDir
from tests.hedera.conftest import SLOTS, Rigs
from tests.scheduler.factory import BASE

pytestmark = pytest.mark.looptime(start=0)

START = BASE + 3600


async def test_happy_path_pending_twice_then_accepted_is_written_into_a_slot(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=2))
    rig.request([4200.0, 1337.0], start=START)
    accepted = await rig.published.wait_for("accepted")
    assert rig.published.states("r1") == ["received", "submitted", "pending", "accepted"]
    assert accepted["granted"]["values"] == [4200.0, 1337.0]
    assert accepted["granted"]["start"] == {"seconds": int(START), "nanos": 0}
    assert accepted["applied"] == {"slots": [SLOTS[0]], "priority": 20}
    slot = SLOTS[0]
    assert rig.slot_values(slot, 2) == [4.2, 1.337]
    assert rig.h.value(f"{slot}.NumEntr.setVal") == 2
    assert rig.h.value(f"{slot}.SchdIntv.setVal") == 900
    assert rig.h.value(f"{slot}.SchdPrio.setVal") == 20
    assert rig.h.value(f"{slot}.StrTm01.setTm") == START
    assert all(call.authorized and call.accept_ok for call in rig.fake.calls if call.endpoint != "token")
    assert "inside" in rig.fake.directive_compliance()
    assert "early" not in rig.fake.directive_compliance()
    assert [(e.command, e.result) for e in rig.audit][:3] == [
        ("request", "received"),
        ("post", "posted"),
        ("decision", "accepted"),
    ]
    await rig.h.sleep_until(START + 1)
    assert rig.output() == pytest.approx(4.2)


@pytest.mark.parametrize("polls", [0, 3])
async def test_declined_is_replied_with_hederas_message_and_nothing_is_written(
    rigs: Rigs, polls: int
) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=polls, outcome="Declined", message="no capacity in this period"))
    rig.request([4200.0], start=START)
    declined = await rig.published.wait_for("declined")
    assert declined["message"] == "no capacity in this period"
    assert rig.published.states("r1")[-1] == "declined"
    assert rig.h.engine.intent_keys() == {}
    assert rig.store.schedules() == []


async def test_pending_forever_is_deleted_at_the_decision_timeout(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=None))
    posted_at = rig.h.clock.now()
    rig.request([4200.0], start=START)
    timeout = await rig.published.wait_for("timeout")
    assert timeout["ts"] == pytest.approx(posted_at + 300, abs=31)
    [schedule] = rig.fake.schedules.values()
    assert schedule.state == "Cancelled"
    assert rig.fake.calls_to("delete")[-1].authorized
    assert rig.h.engine.intent_keys() == {}


async def test_not_found_just_after_the_post_is_still_pending(rigs: Rigs) -> None:
    rig = await rigs(first_poll_delay_s=1)
    rig.fake.not_found_window_s = 10
    rig.fake.poll_window = (1.0, 5.0)
    rig.fake.script(Script(polls=1))
    rig.request([4200.0], start=START)
    await rig.published.wait_for("accepted")
    assert 404 in [call.status for call in rig.fake.calls_to("get")]
    assert "failed" not in rig.published.states()


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"\xff\xfe garbage", "UTF-8"),
        (b"[1, 2", "neither JSON"),
        (b'{"direction": "SIDEWAYS", "resolution": "FIVE_MINUTES", "values": [1]}', "direction"),
        (b'{"direction": "IMPORT", "resolution": "FIVE_MINUTES", "values": []}', "values"),
    ],
)
async def test_unreadable_requests_are_rejected_without_any_http_call(
    rigs: Rigs, payload: bytes, why: str
) -> None:
    rig = await rigs()
    rig.lifecycle.submit(payload)
    [rejected] = rig.published.replies("rejected")
    assert why in rejected["message"]
    assert rig.fake.calls == []


@pytest.mark.parametrize(
    ("values", "start", "resolution", "why"),
    [
        ([1.0] * 289, 3600, "FIVE_MINUTES", "24 h"),
        ([1.0] * 101, 3600, "FIVE_MINUTES", "slots hold"),
        ([1.0], -60, "FIFTEEN_MINUTES", "past"),
        ([1.0], 3 * 86400, "FIFTEEN_MINUTES", "48 h"),
        ([-1.0], 3600, "FIFTEEN_MINUTES", "not negative"),
    ],
)
async def test_requests_hedera_would_refuse_are_rejected_first(
    rigs: Rigs, values: list[float], start: float, resolution: str, why: str
) -> None:
    rig = await rigs()
    rig.lifecycle._lanes["IMPORT"].target = replace(rig.lifecycle._lanes["IMPORT"].target, capacity=100)
    rig.request(values, start=rig.h.clock.now() + start, resolution=resolution)
    assert rig.published.states("r1") == ["received", "rejected"]
    assert why in rig.published.replies("rejected")[0]["message"]
    assert rig.fake.calls == []


async def test_an_unconfigured_direction_is_rejected(rigs: Rigs) -> None:
    rig = await rigs()
    rig.lifecycle._lanes.pop("EXPORT")
    rig.request([1.0], start=START, direction="EXPORT")
    assert "not configured" in rig.published.replies("rejected")[0]["message"]


async def test_relevents_relaxed_and_strict_payloads_are_both_accepted(
    rigs: Rigs, reference_dir: ReferenceDir
) -> None:
    rig = await rigs()
    strict = json.loads(reference_dir.file("hedera/examples/ems-extension-request.json").read_text())
    relaxed = reference_dir.file("hedera/examples/ems-extension-request.relaxed.txt").read_bytes()
    start = int(START)
    strict["start"]["seconds"] = start
    rig.lifecycle.submit(json.dumps(strict).encode())
    await rig.published.wait_for("accepted")
    later = relaxed.replace(b"1704807420", str(start + 86400).encode())
    rig.lifecycle.submit(later)
    second = await rig.published.wait_for("accepted", 2)
    assert second["granted"]["values"] == [42.0, 1337.0]
    assert second["granted"]["resolution"] == "FIFTEEN_MINUTES"


async def test_skip_hedera_is_rejected_by_default(rigs: Rigs) -> None:
    rig = await rigs()
    rig.lifecycle.submit(json.dumps({"direction": "IMPORT", "resolution": "FIVE_MINUTES", "values": [5.0],
                                     "skipHedera": True}).encode())  # fmt: skip
    assert "skipHedera" in rig.published.replies("rejected")[0]["message"]
    assert rig.fake.calls == []


async def test_skip_hedera_is_applied_when_allowed(rigs: Rigs) -> None:
    rig = await rigs(ems={"allow_skip_hedera": True})
    rig.lifecycle.submit(json.dumps({"direction": "IMPORT", "resolution": "FIVE_MINUTES", "values": [5000.0],
                                     "skipHedera": True}).encode())  # fmt: skip
    accepted = await rig.published.wait_for("accepted")
    assert accepted["applied"]["priority"] == 20
    assert rig.slot_values(SLOTS[0], 1) == [5.0]
    assert rig.fake.calls == []


async def test_a_second_request_supersedes_the_pending_one_and_deletes_its_schedule(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=None))
    rig.request([4200.0], start=START, rid="first")
    await rig.published.wait_for("pending")
    [first] = rig.fake.schedules.values()
    rig.fake.script(Script(polls=0))
    rig.request([3000.0], start=START + 86400, rid="second")
    superseded = await rig.published.wait_for("superseded")
    assert superseded["id"] == "first"
    assert superseded["hedera_schedule"] == first.id
    accepted = await rig.published.wait_for("accepted")
    assert accepted["id"] == "second"
    assert first.state == "Cancelled"
    assert [call.path for call in rig.fake.calls_to("delete")] == [f"/schedule/{first.id}"]


@pytest.mark.parametrize("state", ["Unknown", "Suspended"])
async def test_an_unknown_state_is_never_applied(rigs: Rigs, state: str) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=0, outcome=state))
    rig.request([4200.0], start=START)
    failed = await rig.published.wait_for("failed")
    assert "Unknown" in failed["message"]
    assert rig.h.engine.intent_keys() == {}


@pytest.mark.parametrize(
    ("prefix", "response_topic", "answered_on"),
    [
        (None, "ems/replies/7", "hedera-requests/reply"),
        ("ems/replies/", "ems/replies/7", "ems/replies/7"),
        ("ems/replies/", "relevent/v1/gw1/dev/bat1/ctl/set", "hedera-requests/reply"),
        ("ems/replies/", "ems/replies/#", "hedera-requests/reply"),
    ],
)
async def test_a_response_topic_is_used_only_below_the_configured_prefix(
    rigs: Rigs, prefix: str | None, response_topic: str, answered_on: str
) -> None:
    rig = await rigs(ems={"response_prefix": prefix})
    rig.lifecycle.submit(b"garbage", response_topic, b"7")
    assert [topic for topic, payload, _ in rig.published.messages if payload.get("state")] == [answered_on]
