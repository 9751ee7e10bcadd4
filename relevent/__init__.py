"""relevent-gw: an edge gateway that turns every actor's intent into IEC 61850-90-10 schedules."""

__version__ = "0.1.0"
