"""The timing constants that depend on each other across layers, and the relations between them.

The scheduler, the MMS server, the MQTT bridge and the garbage collector share one event loop around each
scheduler instant: the instant's device commands go first, then its status, then the MMS mirror; plans and
full collections keep out of the way. Each value here is tuned against the others (the measurements behind
them: docs/performance.md); `relations()` states why each must hold, and a test checks them.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- the scheduler (relevent/scheduler/engine.py)
# An entry boundary emits its output events at once; its status and the store commit of consumed start
# times follow this much later, so that the loop hands the device commands to the broker first (uvloop runs
# a timer that has fallen due before it writes what the publish tasks queued: a shorter delay holds them).
# A read, a command, a clock step or the next instant finishes a deferred boundary at once.
STATUS_DELAY_S = 0.05

# --- the MMS server (relevent/wan/mms/pacing.py, hop.py, server.py, reports.py)
# No MMS callback work on the loop (writes, operates, associations) from this long before a scheduler
# instant to this long after it: the entry boundary's timer then finds the loop free. Reads never wait.
QUIET_BEFORE_S = 0.005
QUIET_AFTER_S = 0.005
# No MMS model updates for this long after an instant either: its device commands are leaving.
BURST_S = 0.05
SLICE_S = 0.002  # the longest run of MMS model updates (or a status page's rendering) between loop turns
REPORT_BUF_TIME_MS = 50  # the auto report blocks' bufTm: merges the q, t and value changes of one update
MMS_CALLBACK_WAIT_S = 2.0  # how long libiec61850's thread waits for the loop to begin a callback's work
ACTIVE_S = 1.0  # how long the loop-driven MMS server polls fast (`WAIT_MS`) after activity

# --- the MQTT bridge (relevent/lan/mqtt/bridge.py)
# How long a changed forecast waits for further changes before the devices' plans are recomputed: SCADA
# programs a schedule item by item, and a recomputation costs far more than a write.
PLAN_SETTLE_S = 0.2

# --- full garbage collections (relevent/heap.py), moved out of the boundaries' work
GC_PERIOD_S = 10.0  # about as often as the collector's own rule ran them
GC_PASS_S = 0.1  # the longest full pass planned for (docs/performance.md has the measured ones)
GC_QUIET_S = 0.3  # a full pass runs only when the next scheduler instant is at least this far
GC_LONGEST_WAIT_S = 60.0  # without such a window (very short entries), collect anyway after this long


@dataclass(frozen=True, slots=True)
class Relation:
    """One inequality between the constants and why it must hold."""

    holds: bool
    why: str


def relations() -> tuple[Relation, ...]:
    """Every relation between the constants, evaluated now."""
    return (
        Relation(SLICE_S < QUIET_BEFORE_S,
                 "a slice of MMS updates begun just before an instant's quiet window ends before it"),
        Relation(BURST_S >= STATUS_DELAY_S,
                 "the MMS mirror waits out the device commands at least as long as the engine's status does"),
        Relation(PLAN_SETTLE_S > STATUS_DELAY_S,
                 "a boundary's state changes, published after its outputs, fall into one plan recomputation"),
        Relation(ACTIVE_S > REPORT_BUF_TIME_MS / 1000,
                 "the loop-driven MMS server polls fast until the reports of an update have gone out"),
        Relation(MMS_CALLBACK_WAIT_S > QUIET_BEFORE_S + QUIET_AFTER_S + GC_PASS_S,
                 "an MMS callback waiting out a quiet window and a full collection is still answered"),
        Relation(GC_QUIET_S > GC_PASS_S + QUIET_BEFORE_S,
                 "a full collection begun in a quiet window ends before the next instant's MMS quiet window"),
    )  # fmt: skip

