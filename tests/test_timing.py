"""The timing constants shared across layers keep their relations."""

from __future__ import annotations

import pytest

from relevent import timing


def test_every_relation_between_the_timing_constants_holds() -> None:
    assert [relation.why for relation in timing.relations() if not relation.holds] == []


def test_a_constant_tuned_alone_breaks_its_relation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timing, "STATUS_DELAY_S", 0.1)  # the status after the MMS mirror's hold
    broken = [relation.why for relation in timing.relations() if not relation.holds]
    assert len(broken) == 1
    assert broken[0].startswith("the MMS mirror waits out the device commands")
