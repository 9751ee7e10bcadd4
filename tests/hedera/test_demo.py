"""`relevent-gw demo --hedera`: the EMS asks the fake HEDERA, the grant becomes the site's MaxPow."""

from __future__ import annotations

import re

import pytest

from tests.demo_run import GRACE_S, run_demo

DURATION_S = 30


@pytest.mark.slow
@pytest.mark.timeout(DURATION_S + GRACE_S + 30)
def test_the_demo_asks_hedera_and_runs_the_grant() -> None:
    result = run_demo(DURATION_S, "--hedera")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    states = [m.group(1) for line in lines if (m := re.match(r"\S+ HEDERA (.*)", line))]
    assert states[:3] == ["received", "submitted", "pending"]
    assert "accepted: 7000 W granted" in states
    assert any("MaxPow=7.0 (MaxPow_FSCH05)" in line for line in lines), result.stdout
