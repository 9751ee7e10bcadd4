"""The IEC 61850 MMS server towards SCADA: built from the SCL, decisions delegated to a `Gate`.

The composition root needs only `ServerCreation`, `MmsServer`, `MmsSettings`, `GuardSettings`,
`ConnectionLimits`, `ThrottleSettings` and `MmsServerError`; the `Gate` seam is in `gate`.
"""

from relevent.scheduler.commands import Actor
from relevent.wan.mms.admission import ConnectionLimits
from relevent.wan.mms.creation import ServerCreation
from relevent.wan.mms.gate import (
    ACCEPTED,
    AddCause,
    ControlValue,
    ControlVerdict,
    Verdict,
    WriteValue,
)
from relevent.wan.mms.guard import GuardSettings
from relevent.wan.mms.mirror import Update
from relevent.wan.mms.server import MmsServer
from relevent.wan.mms.settings import MmsServerError, MmsSettings
from relevent.wan.mms.throttle import ThrottleSettings

__all__ = [
    "ACCEPTED",
    "Actor",
    "AddCause",
    "ConnectionLimits",
    "ControlValue",
    "ControlVerdict",
    "GuardSettings",
    "MmsServer",
    "MmsServerError",
    "MmsSettings",
    "ServerCreation",
    "ThrottleSettings",
    "Update",
    "Verdict",
    "WriteValue",
]
