"""The failures of relevent-ctl, each with the process exit code it ends with."""

from __future__ import annotations

from dataclasses import dataclass

from relevent.errors import ReleventError
from relevent.scheduler.schedule import EnaErr

EX_OK, EX_REFUSED, EX_USAGE, EX_UNREACHABLE = 0, 1, 2, 3

# What the client errors and AddCauses mean when this gateway answers with them (see the MMS binding).
ERROR_MEANINGS = {
    "access-denied": "the attribute is locked by the gateway's policy, read-only, or beyond this client's "
    "rights",
    "object-value-invalid": "the gateway does not accept the value",
    "type-inconsistent": "the value has the wrong type for the attribute",
    "temporarily-unavailable": "the gateway takes no changes now (scheduler not started, or its store "
    "failed)",
    "object-does-not-exist": "the gateway serves no such object",
    "object-undefined": "the gateway serves no such object",
    "object-access-unsupported": "the attribute cannot be written",
    "hardware-fault": "the gateway could not decide (see its log)",
    "connection-rejected": "nothing accepted the connection in time (check the host and port, that the "
    "gateway runs, firewalls, and the TLS files or password)",
    "timeout": "the gateway did not answer in time",
    "connection-lost": "the connection was lost",
}
ADD_CAUSE_MEANINGS = {
    "blocked-by-mode": "enable/disable is locked by the gateway's policy, or beyond this client's rights",
    "inconsistent-parameters": "the schedule's parameters do not pass the gateway's validation",
    "blocked-by-health": "the gateway takes no changes now (scheduler not started, or its store failed)",
    "not-supported": "not an EnaReq or DsaReq of a schedule",
    "no-access-authority": "this connection identifies no actor of the gateway",
}


@dataclass(frozen=True)
class Code:
    """A numeric protocol code with its name (`object-value-invalid (32)`) and what it means here."""

    value: int
    name: str
    meaning: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.value})"

    def explained(self) -> str:
        """`name (value): meaning`, or without the meaning when there is none."""
        return f"{self}: {self.meaning}" if self.meaning else str(self)


def ena_err_text(code: int) -> str:
    """`SchdEnaErr 3: missing valid SchdIntv (...)`."""
    try:
        return f"SchdEnaErr {code}: {EnaErr(code).text}"
    except ValueError:
        return f"SchdEnaErr {code}"


class CtlError(ReleventError):
    """A command failed; `exit_code` is what the process returns."""

    exit_code = EX_REFUSED


class UsageError(CtlError):
    """The command line or a schedule file is wrong (nothing was sent)."""

    exit_code = EX_USAGE


class UnreachableError(CtlError):
    """The gateway cannot be reached, or the connection was lost."""

    exit_code = EX_UNREACHABLE


@dataclass(frozen=True)
class Refusal:
    """What the gateway refused, on `ref`: over MMS, or in its dry run before anything was sent.

    Over MMS `error` is the client error (`access-denied (21)`, ...); for an operate `add_cause` is the
    AddCause of LastApplError and `schd_ena_err` the `SchdEnaErr` read back afterwards. A dry-run refusal
    has no `error` but the gateway's `reason` (`access_denied`, `value_invalid`, ...). `because` is the
    gateway's own reason in words, when it could be had. For a `write` command, `written` and `not_written`
    list which of its requests took effect and which did not (`written` None: not a write command).
    """

    ref: str
    error: Code | None = None
    add_cause: Code | None = None
    schd_ena_err: int | None = None
    reason: str | None = None
    because: str | None = None
    written: tuple[str, ...] | None = None
    not_written: tuple[str, ...] = ()

    def text(self) -> str:
        """The refusal for people: the reason first, then the codes and what was written."""
        headline = self.because or (self.error.meaning if self.error else None) or self.reason or "refused"
        details = [self.error.explained() if self.error and self.because else str(self.error or "")]
        if self.add_cause is not None:
            details.append(f"AddCause {self.add_cause.explained()}")
        if self.schd_ena_err is not None:
            details.append(ena_err_text(self.schd_ena_err))
        if self.written is not None:
            details.append(_progress(self.written, self.not_written))
        return "\n  ".join([f"{self.ref}: refused: {headline}", *filter(None, details)])


class RefusedError(CtlError):
    """The gateway refused a request (see `Refusal`)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.text())
        self.refusal = refusal


def _progress(written: tuple[str, ...], not_written: tuple[str, ...]) -> str:
    if not written:
        return "nothing was written"
    return f"written: {', '.join(written)}; not written: {', '.join(not_written) or 'nothing'}"
