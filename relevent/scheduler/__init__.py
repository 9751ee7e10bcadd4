"""The IEC 61850-90-10 scheduler core: pure, no network I/O, timed by an injected clock.

Adapters use `Engine` (commands, events, snapshot, forecast); the composition root builds it from a
`ModelSpec` (see `discovery`), a `Clock` and a `Store`.
"""

from relevent.scheduler.clock import Clock, SystemClock
from relevent.scheduler.commands import (
    ACCEPTED,
    Accepted,
    Actor,
    CommandResult,
    Program,
    Rejected,
    RejectReason,
)
from relevent.scheduler.controller import Output
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, AttributeValue, Event, OutputChanged
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.periodic import CalendarTime, OccurrenceKind, Period
from relevent.scheduler.policy import RESERVE, Grant, Lockable, Rights, SchedulePolicy
from relevent.scheduler.schedule import EnaErr, SchdSt
from relevent.scheduler.spec import (
    ControllerSpec,
    ModelSpec,
    ScheduleSpec,
    StartTimeSpec,
    TargetSpec,
    ValueKind,
    targets_for_do,
)
from relevent.scheduler.store import SqliteStore, Store, StoreError
from relevent.scheduler.values import ValueType

__all__ = [
    "ACCEPTED",
    "RESERVE",
    "Accepted",
    "Actor",
    "AttributeChanged",
    "AttributeValue",
    "CalendarTime",
    "Clock",
    "CommandResult",
    "ControllerSpec",
    "EnaErr",
    "Engine",
    "Event",
    "ForecastPoint",
    "Grant",
    "Lockable",
    "ModelSpec",
    "OccurrenceKind",
    "Output",
    "OutputChanged",
    "Period",
    "Program",
    "RejectReason",
    "Rejected",
    "Rights",
    "SchdSt",
    "SchedulePolicy",
    "ScheduleSpec",
    "SqliteStore",
    "StartTimeSpec",
    "Store",
    "StoreError",
    "SystemClock",
    "TargetSpec",
    "ValueKind",
    "ValueType",
    "targets_for_do",
]
