"""`relevent-gw demo` headless for 60 s: broker, gateway, SCADA and devices all work together."""

from __future__ import annotations

import re

import pytest

from tests.demo_run import GRACE_S, run_demo

DURATION_S = 60
V2X_DURATION_S = 30


@pytest.mark.slow
@pytest.mark.timeout(DURATION_S + GRACE_S + 30)
def test_demo_runs_headless_and_the_simulated_devices_follow_the_schedules() -> None:
    result = run_demo(DURATION_S)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert sum("SCADA wrote" in line for line in lines) == 4
    assert lines[-1].endswith("demo stopped")
    summaries = [line for line in lines if "bat1:" in line]
    assert len(summaries) >= DURATION_S // 3
    # the battery follows the aggregator's profile (kW in the model, W at the device) ...
    assert any("(ActPow_FSCH01)" in line for line in summaries)
    battery = [float(m.group(1)) for line in summaries if (m := re.search(r"bat1: +(-?[\d.]+) W", line))]
    assert max(abs(w) for w in battery) > 500
    # ... and the EV charger, which has no setpoint, draws power under the DSO's limit and the reserve's
    assert any("(MaxPow_FSCH01)" in line for line in summaries)
    commands = [int(m.group(1)) for line in summaries if (m := re.search(r"evse1: .*?\((\d+) cmds", line))]
    assert commands[-1] >= 3
    evse = [float(m.group(1)) for line in summaries if (m := re.search(r"evse1: +(-?[\d.]+) W", line))]
    assert min(evse) < -2000
    # the charging station over OCPP follows the same controllers: the site's 11 kW lets its EV charge,
    # the DSO's 2.5 kW (below the 6 A an EV can be signalled) pauses it until the end of the run
    station = [float(m.group(1)) for line in summaries if (m := re.search(r"cs1: +(-?[\d.]+) W", line))]
    assert min(station) < -4000
    assert station[-1] == 0.0
    # the PV inverter over SunSpec gives what the sun has (6 kW) under the site limit, 2.5 kW under the DSO's
    inverter = [float(m.group(1)) for line in summaries if (m := re.search(r"pv1: +(-?[\d.]+) W", line))]
    assert max(inverter) == 6000.0
    assert inverter[-1] == 2500.0


@pytest.mark.slow
@pytest.mark.timeout(V2X_DURATION_S + GRACE_S + 30)
def test_demo_with_an_ocpp_2_1_station_discharges_its_ev_on_the_aggregators_injection() -> None:
    result = run_demo(V2X_DURATION_S, "--ocpp-version", "2.1")
    assert result.returncode == 0, result.stdout + result.stderr
    summaries = [line for line in result.stdout.splitlines() if "cs1:" in line]
    assert all("(ocpp 2.1)" in line for line in summaries)
    # ActPow's first half asks for injection (up to 4 kW): the EV exports it, as a positive power
    station = [float(m.group(1)) for line in summaries if (m := re.search(r"cs1: +(-?[\d.]+) W", line))]
    assert 1000 < max(station) <= 4000
