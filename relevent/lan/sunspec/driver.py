"""The SunSpec driver: one worker per inverter (protocol "sunspec")."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from relevent.lan.modbus.worker import ModbusDriver
from relevent.lan.sunspec.config import SunSpecOptions
from relevent.lan.sunspec.inverter import SunSpecInverter

PROTOCOL = "sunspec"


def sunspec_driver(
    devices: Mapping[str, SunSpecOptions], clock: Callable[[], float] = time.time
) -> ModbusDriver:
    """The driver serving these inverters (device id -> options)."""
    return ModbusDriver(
        PROTOCOL, [SunSpecInverter(device_id, options) for device_id, options in devices.items()], clock
    )
