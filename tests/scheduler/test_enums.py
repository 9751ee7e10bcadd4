"""The scheduler's IEC 61850 enumerations: integers looked up by ordinal, each with its SCL literal."""

from __future__ import annotations

import pickle

from relevent.scheduler.periodic import Weekday
from relevent.scheduler.schedule import EnaErr, SchdSt


def test_a_member_is_its_ordinal_and_carries_its_literal() -> None:
    assert SchdSt(4) is SchdSt.RUNNING
    assert (int(SchdSt.RUNNING), SchdSt.RUNNING.literal) == (4, "Running")
    assert f"{SchdSt.RUNNING}" == "4"
    assert (EnaErr(99).literal, Weekday.SUNDAY - Weekday.MONDAY) == ("Other", 6)
    assert pickle.loads(pickle.dumps(EnaErr.STR_TM)) is EnaErr.STR_TM
