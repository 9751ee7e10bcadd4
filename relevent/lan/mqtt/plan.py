"""A device's plan as the retained `ctl/plan` message."""

from __future__ import annotations

from relevent.lan.driver import DevicePlan
from relevent.lan.mqtt.payloads import Plan, PlanEntry, utc


def plan_payload(plan: DevicePlan, now: float) -> Plan:
    """The retained `ctl/plan` message."""
    return Plan(
        ts=utc(now),
        entries=[
            PlanEntry(start=utc(t), w_set=f.w_set, w_max_lim=f.w_max_lim, on=f.on) for t, f in plan.steps
        ],
    )
