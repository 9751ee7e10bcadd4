"""What an MMS server serves and how: the `[mms]` section as the adapter sees it, and its start-up error."""

from __future__ import annotations

from dataclasses import dataclass, field

from relevent.config import MmsSection, ReportsMode, ServeMode, default
from relevent.errors import StartupError
from relevent.wan.mms.admission import ConnectionLimits
from relevent.wan.mms.guard import GuardSettings
from relevent.wan.mms.security import Credentials, TlsFiles
from relevent.wan.mms.throttle import ThrottleSettings


class MmsServerError(StartupError):
    """The MMS server cannot serve (e.g. its port is taken, needs privileges, or its TLS files are bad)."""


@dataclass(frozen=True, slots=True)
class MmsSettings:
    """Where and how to serve: the `[mms]` section as the server takes it."""

    host: str = default(MmsSection, "host")
    port: int = default(MmsSection, "port")
    reports: ReportsMode = default(MmsSection, "reports")  # noqa: RUF009 - an immutable str
    serve: ServeMode = default(MmsSection, "serve")  # noqa: RUF009 - an immutable str
    ied: str | None = None  # the IED of the SCL to serve; None: its first
    tls: TlsFiles | None = None  # None: plain TCP
    credentials: Credentials | None = None  # None: no authentication, every client is anonymous
    guard: GuardSettings = field(default_factory=GuardSettings)  # how long a connection may take to associate
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)  # who may hold how many connections
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)  # after failed authentications
