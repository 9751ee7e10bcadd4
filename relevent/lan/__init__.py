"""Downstream adapters: output events in, device commands out; device data back to the core."""
