"""Firm capacity as a schedule: lost contact, revised and cancelled grants, a lost EMS, a restart."""

from __future__ import annotations

from typing import Any

import pytest

from relevent.demo.hedera_server import Script, capped
from tests.hedera.conftest import CONTROLLER, SLOTS, Rig, Rigs
from tests.scheduler.factory import BASE

pytestmark = pytest.mark.looptime(start=0)

GRANT_W = 4200.0


async def running_grant(rigs: Rigs, script: Script | None = None, **overrides: Any) -> tuple[Rig, float]:
    """A rig whose import grant (8 quarters of 4200 W) runs from a minute after now."""
    rig = await rigs(**overrides)
    rig.fake.script(script or Script(polls=0))
    start = float(int(rig.h.clock.now()) + 60)
    rig.request([GRANT_W] * 8, start=start)
    await rig.published.wait_for("accepted")
    await rig.h.sleep_until(start + 1)
    assert rig.output() == pytest.approx(4.2)
    return rig, start


async def test_hedera_down_during_a_grant_falls_back_at_the_window_end_and_recovers(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs)
    window_end = rig.fake.issued[-1][4]
    [read] = rig.published.last_state()["directions"]["IMPORT"]["next_read"]
    assert read["until"] == window_end  # the EMS sees when the fallback would start
    await rig.fake.down()
    fallback = await rig.published.wait_for("fallback")
    assert fallback["ts"] >= window_end
    assert fallback["message"] == "HEDERA contact lost"
    assert rig.output() == pytest.approx(1.0)  # 1000 W firm capacity, in kW
    output = rig.h.engine.output(CONTROLLER)
    assert output is not None
    assert output.priority == 21  # the band's top, above the grant's 20
    assert rig.metric("relevent_hedera_fallback_active", direction="IMPORT") == 1
    assert rig.published.last_state()["directions"]["IMPORT"]["mode"] == "firm"
    await rig.fake.up()
    await rig.published.wait_for("restored")
    assert rig.output() == pytest.approx(4.2)
    assert rig.metric("relevent_hedera_fallback_active", direction="IMPORT") == 0
    assert [(e.command, e.result) for e in rig.audit if e.command == "fallback"] == [
        ("fallback", "entered"),
        ("fallback", "left"),
    ]


async def test_a_grant_revised_downwards_is_rewritten_at_once(rigs: Rigs) -> None:
    script = Script(polls=0, revise_at=BASE + 200, revised=capped(2000.0))
    rig, _ = await running_grant(rigs, script)
    revised = await rig.published.wait_for("accepted", 2)
    assert revised["message"] == "revised by HEDERA"
    assert revised["granted"]["values"] == [2000.0] * 8
    assert revised["granted"]["reasons"] == ["2001"] * 8
    assert rig.slot_values(SLOTS[0], 8) == [2.0] * 8
    assert rig.output() == pytest.approx(2.0)


async def test_an_operator_cancel_ends_the_grant_and_falls_back(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs, Script(polls=0, cancel_at=BASE + 200))
    cancelled = await rig.published.wait_for("cancelled")
    assert "Cancelled" in cancelled["message"]
    assert rig.published.replies("fallback")
    assert rig.output() == pytest.approx(1.0)
    assert list(rig.h.engine.intent_keys().values()) == ["hedera/IMPORT/firm"]


async def test_the_ems_last_will_falls_back_and_its_schedules_are_released_later(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs, ems={"release_after_s": 300})
    lost_at = rig.h.clock.now()
    rig.lifecycle.ems_available(online=False)
    assert rig.output() == pytest.approx(1.0)
    assert rig.published.replies("fallback")[0]["message"] == "EMS lost"
    await rig.h.sleep_until(lost_at + 301)
    [schedule] = rig.fake.schedules.values()
    assert schedule.state == "Cancelled"
    assert rig.fake.calls_to("delete")[0].at >= lost_at + 300
    assert rig.output() == pytest.approx(1.0)  # firm until the EMS asks again


async def test_the_ems_back_before_the_release_keeps_the_schedules(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs)
    rig.lifecycle.ems_available(online=False)
    rig.lifecycle.ems_available(online=True)
    await rig.h.sleep_until(rig.h.clock.now() + 400)
    assert rig.fake.calls_to("delete") == []


async def test_a_restart_mid_poll_resumes_and_replies_to_the_stored_request(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=4))
    rig.request([GRANT_W], start=BASE + 3600)
    await rig.published.wait_for("pending")
    await rigs.end(rig)
    again = await rigs(rig.h)
    accepted = await again.published.wait_for("accepted")
    assert accepted["id"] == "r1"
    assert len(rig.fake.calls_to("post")) == 1


async def test_a_restart_mid_grant_resumes_and_a_grant_gone_at_hedera_falls_back(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs)
    await rigs.end(rig)
    rig.fake.schedules.clear()  # HEDERA lost it meanwhile
    again = await rigs(rig.h)
    cancelled = await again.published.wait_for("cancelled")
    assert "unknown at HEDERA" in cancelled["message"]
    assert again.output() == pytest.approx(1.0)
    assert again.lifecycle.fallback_active


async def test_a_fallback_survives_a_restart_until_a_grant_is_confirmed(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs)
    await rig.fake.down()
    await rig.published.wait_for("fallback")
    await rigs.end(rig)
    await rig.fake.up()
    again = await rigs(rig.h)
    assert again.lifecycle.fallback_active
    await again.published.wait_for("restored")  # the resumed grant's first read confirms it
    assert again.output() == pytest.approx(4.2)


async def test_shutdown_with_a_running_grant_falls_back(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs)
    rig.lifecycle.stop()
    assert rig.output() == pytest.approx(1.0)
    assert rig.published.replies("fallback")[0]["message"] == "gateway stopping"


async def test_an_ems_silent_for_its_timeout_is_lost_and_back_with_its_next_message(rigs: Rigs) -> None:
    rig, _ = await running_grant(rigs, ems={"ems_timeout_s": 120})
    heard = rig.h.clock.now()
    fallback = await rig.published.wait_for("fallback")
    assert fallback["message"] == "EMS lost"
    assert fallback["ts"] >= heard + 120 - 61  # the request (a minute before `heard`) was the last message
    rig.lifecycle.ems_heard()  # e.g. its availability again: no release, firm until it asks
    await rig.h.sleep_until(rig.h.clock.now() + 400)
    assert rig.fake.calls_to("delete") == []
    assert rig.output() == pytest.approx(1.0)


async def test_a_request_after_a_restart_supersedes_the_resumed_one(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=None))
    rig.request([GRANT_W], start=BASE + 3600)
    await rig.published.wait_for("pending")
    [first] = rig.fake.schedules.values()
    await rigs.end(rig)
    again = await rigs(rig.h)
    rig.fake.script(Script(polls=0))
    again.request([GRANT_W], start=BASE + 7200, rid="r2")
    superseded = await again.published.wait_for("superseded")  # the resumed request is told
    assert (superseded["id"], superseded["hedera_schedule"]) == ("r1", first.id)
    await again.published.wait_for("accepted")
    assert first.state == "Cancelled"
    assert [row.id for row in again.store.schedules()] != [first.id]
