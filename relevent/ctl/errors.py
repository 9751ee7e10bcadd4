"""The failures of relevent-ctl, each with the process exit code it ends with."""

from __future__ import annotations

from dataclasses import dataclass

from relevent.errors import ReleventError

EX_OK, EX_REFUSED, EX_USAGE, EX_UNREACHABLE = 0, 1, 2, 3


@dataclass(frozen=True)
class Code:
    """A numeric protocol code with its name (`object-value-invalid (32)`)."""

    value: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.value})"


class CtlError(ReleventError):
    """A command failed; `exit_code` is what the process returns."""

    exit_code = EX_REFUSED


class UsageError(CtlError):
    """The command line or a schedule file is wrong (nothing was sent)."""

    exit_code = EX_USAGE


class UnreachableError(CtlError):
    """The gateway cannot be reached, or the connection was lost."""

    exit_code = EX_UNREACHABLE


class RefusedError(CtlError):
    """The server answered a request negatively with the client error `error` (`access-denied (21)`, ...).

    For an operate, `add_cause` is the AddCause of LastApplError and `schd_ena_err` the `SchdEnaErr` read
    back afterwards (when they apply).
    """

    def __init__(
        self, ref: str, error: Code, *, add_cause: Code | None = None, schd_ena_err: int | None = None
    ) -> None:
        details = [str(error)]
        if add_cause is not None:
            details.append(f"AddCause {add_cause}")
        if schd_ena_err is not None:
            details.append(f"SchdEnaErr {schd_ena_err}")
        super().__init__(f"{ref}: {', '.join(details)}")
        self.ref = ref
        self.error = error
        self.add_cause = add_cause
        self.schd_ena_err = schd_ena_err
