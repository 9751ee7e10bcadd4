"""The exception root of relevent-gw, its few typed subclasses and the exit code of each."""

from __future__ import annotations

from collections.abc import Sequence

EX_UNAVAILABLE = 69  # a service could not start: systemd may retry
EX_CONFIG = 78  # configuration or model error: systemd must not restart on it


class ReleventError(Exception):
    """Root of every error relevent-gw raises on purpose; `exit_code` is the process's when it ends it."""

    exit_code: int = EX_CONFIG


class ConfigError(ReleventError):
    """The gateway configuration is invalid."""


class SclError(ReleventError):
    """An SCL file cannot be used; names the file, the line and the offending reference."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class StartupError(ReleventError):
    """A service could not start (address in use, missing privileges); worth a restart by systemd."""

    exit_code = EX_UNAVAILABLE


class ServicesFailedError(ReleventError):
    """Several services failed together: every message, one per line, and the most serious exit code.

    A restart cannot cure a configuration error, so any error other than a `StartupError` decides the code
    (EX_CONFIG: systemd must not restart); only when every one is a `StartupError` may systemd retry.
    """

    def __init__(self, errors: Sequence[ReleventError]) -> None:
        self.errors = tuple(errors)
        lasting = [error for error in self.errors if not isinstance(error, StartupError)]
        self.exit_code = (lasting or self.errors)[0].exit_code
        super().__init__("\n".join(str(error) for error in self.errors))


def one_error(errors: Sequence[ReleventError]) -> ReleventError:
    """The error to end the process with: the only one, or all of them as `ServicesFailedError`."""
    return errors[0] if len(errors) == 1 else ServicesFailedError(errors)
