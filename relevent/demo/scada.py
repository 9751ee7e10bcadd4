"""The demo's SCADA: programs a day-in-the-life schedule set through MMS, as an operator would."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from relevent.ctl.client import MmsClient
from relevent.ctl.gateway_api import GatewayApi
from relevent.ctl.model import browse
from relevent.ctl.ops import write_schedule
from relevent.ctl.schedule_input import ScheduleInput

ENTRY_S = 5  # short entries, so a person watching sees the setpoints move


@dataclass(frozen=True)
class DemoStep:
    """One schedule the demo writes, and why (printed for the person watching)."""

    schedule: str
    given: ScheduleInput
    why: str


def demo_steps(now: datetime) -> list[DemoStep]:
    """A site limit, a market party's battery profile, a DSO limit on top of it, a short disconnection.

    The reserve of MaxPow is 0 kW in the reference model; the site limit at priority 1 lifts it for a day.
    (Values written into the running reserve would only apply at its next hourly boundary.)
    """
    start = now.replace(microsecond=0) + timedelta(seconds=5)
    profile = tuple(round(4.0 * math.sin(2 * math.pi * i / 24), 2) for i in range(24))  # kW, 2 minutes
    return [
        DemoStep("MaxPow_FSCH02", ScheduleInput((11.0,), 86400, 1, now.replace(microsecond=0), enable=True),
                 "site: 11 kW connection limit for a day, priority 1"),
        DemoStep("ActPow_FSCH01", ScheduleInput(profile, ENTRY_S, 20, start, enable=True),
                 "aggregator: battery profile, 24 x 5 s, priority 20"),
        DemoStep("MaxPow_FSCH01", ScheduleInput((2.5,), 60, 60, start + timedelta(seconds=30), enable=True),
                 "DSO: 2.5 kW limit for one minute, priority 60"),
        DemoStep("OnOff_FSCH01", ScheduleInput((False,), 20, 90, start + timedelta(seconds=100), enable=True),
                 "DSO: disconnect for 20 s, priority 90"),
    ]


def program_demo(host: str, port: int, http_port: int) -> list[str]:
    """Write and enable the demo schedules; return one line per step. Blocking: run it in a thread."""
    api = GatewayApi(f"http://{host}:{http_port}", timeout_s=3.0)
    with MmsClient(host, port) as client:
        model = browse(client)
        lines = []
        for step in demo_steps(datetime.now(UTC)):
            write_schedule(client, api, model.schedule(step.schedule), step.given)
            lines.append(f"{step.schedule}: {step.why}")
        return lines
