"""The scenarios of hedera-adapter.md 13.9 against the fake HEDERA, on fake time."""

from __future__ import annotations

import pytest

from relevent.demo.hedera_server import Script
from tests.hedera.conftest import FIRM_W, IMPORT_MRID, SLOTS, Rig
from tests.scheduler.factory import BASE

pytestmark = pytest.mark.looptime(start=0)

START = BASE + 3600


async def test_happy_path_pending_twice_then_accepted_is_written_into_a_slot(rig: Rig) -> None:
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
    assert [(e.command, e.result) for e in rig.audit][:2] == [("post", "posted"), ("decision", "accepted")]
    await rig.h.sleep_until(START + 1)
    assert rig.output() == pytest.approx(4.2)
    assert FIRM_W
    assert IMPORT_MRID
