"""The exception root of relevent-gw and its few typed subclasses."""

from __future__ import annotations


class ReleventError(Exception):
    """Root of every error relevent-gw raises on purpose."""


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
