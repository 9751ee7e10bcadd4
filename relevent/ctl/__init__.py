"""relevent-ctl: the schedule API of a relevent gateway from the command line, as an MMS client."""

from relevent.ctl.cli import main

__all__ = ["main"]
