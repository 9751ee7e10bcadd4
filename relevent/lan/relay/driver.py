"""The relay board driver: one worker per board (protocol "modbus-relay")."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from relevent.lan.modbus.worker import ModbusDriver
from relevent.lan.relay.board import RelayBoard
from relevent.lan.relay.config import RelayOptions

PROTOCOL = "modbus-relay"


def relay_driver(devices: Mapping[str, RelayOptions], clock: Callable[[], float] = time.time) -> ModbusDriver:
    """The driver serving these boards (device id -> options)."""
    boards = [RelayBoard(device_id, options) for device_id, options in devices.items()]
    return ModbusDriver(PROTOCOL, boards, clock)
