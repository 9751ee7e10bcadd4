"""Upstream (WAN) adapters: protocols through which SCADA and other remote actors reach the scheduler."""
