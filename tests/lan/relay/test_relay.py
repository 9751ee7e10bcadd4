"""Relay boards: the contact table, and the driver against the simulated board over Modbus TCP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from relevent.config import DeviceEntry
from relevent.demo.relay_board import SimulatedRelayBoard
from relevent.lan.driver import DeviceFields, DeviceHealth, DeviceIntent
from relevent.lan.modbus.worker import ModbusDriver
from relevent.lan.relay.board import contacts, sg_ready_state
from relevent.lan.relay.config import RelayOptions
from relevent.lan.relay.driver import relay_driver
from relevent.ports import free_port
from tests.lan.reports import RecordingReports

# The German curtailment steps over contacts 1 and 2, the release contact 0, SG-Ready on 4 and 5.
TABLE: dict[str, Any] = {
    "on_coil": 0,
    "rating_w": 10000.0,
    "step_coils": [1, 2],
    "steps": [
        {"pct": 0, "coils": [True, True]},
        {"pct": 30, "coils": [False, True]},
        {"pct": 60, "coils": [True, False]},
        {"pct": 100, "coils": [False, False]},
    ],
}
SG_READY: dict[str, Any] = {"sg_ready_coils": [4, 5], "sg_recommended_w": 1000.0, "sg_forced_w": 3000.0}


def options(port: int = 502, **table: Any) -> RelayOptions:
    return RelayOptions.model_validate(
        {"host": "127.0.0.1", "port": port, "poll_s": 0.05, "timeout_s": 0.5, **(table or TABLE)}
    )


def intent(seq: int, **fields: float | bool | None) -> DeviceIntent:
    now = time.time()
    return DeviceIntent("rb1", seq, now, now + 60, DeviceFields(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit_w", "coils", "short"),
    [(10000.0, (False, False), False), (6500.0, (True, False), True), (6000.0, (True, False), False),
     (2999.0, (True, True), True), (0.0, (True, True), False)],
)  # fmt: skip
def test_the_curtailment_step_at_or_below_the_limit_is_switched(
    limit_w: float, coils: tuple[bool, bool], short: bool
) -> None:
    wanted, why = contacts(options(), DeviceFields(w_max_lim=limit_w))
    assert (wanted[1], wanted[2]) == coils
    assert (why is not None) == short


@pytest.mark.parametrize(
    ("fields", "state"),
    [(DeviceFields(on=False, w_set=-5000.0), 1), (DeviceFields(on=True), 2), (DeviceFields(w_set=-999.0), 2),
     (DeviceFields(w_set=-1000.0), 3), (DeviceFields(w_set=-3000.0), 4), (DeviceFields(w_set=2000.0), 2)],
)  # fmt: skip
def test_sg_ready_states_follow_on_and_consumption(fields: DeviceFields, state: int) -> None:
    assert sg_ready_state(options(**SG_READY), fields) == state


def test_fields_without_a_value_drive_no_contact() -> None:
    assert contacts(options(), DeviceFields()) == ({}, None)
    assert contacts(options(), DeviceFields(on=True)) == ({0: True}, None)


@pytest.mark.parametrize(
    ("table", "problem"),
    [({**TABLE, "rating_w": None}, "rating_w"), ({**TABLE, "on_coil": 1}, "two functions"),
     ({**TABLE, "steps": [{"pct": 0, "coils": [True]}]}, "one per step_coils"),
     ({**SG_READY, "sg_forced_w": 10.0}, "below sg_recommended_w")],
)  # fmt: skip
def test_an_inconsistent_table_is_refused(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        options(**table)


@contextlib.asynccontextmanager
async def driving(
    devices: Mapping[str, RelayOptions],
) -> AsyncIterator[tuple[ModbusDriver, RecordingReports, asyncio.Task[None]]]:
    driver = relay_driver(devices)
    reports = RecordingReports()
    task = asyncio.create_task(driver.run(reports))
    try:
        yield driver, reports, task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def started(board: SimulatedRelayBoard) -> int:
    port = free_port()
    await board.server.start("127.0.0.1", port)
    return port


async def test_the_board_follows_each_intent_and_reads_its_contacts_back() -> None:
    board = SimulatedRelayBoard()
    port = await started(board)
    try:
        async with driving({"rb1": options(port)}) as (driver, reports, _):
            driver.apply(intent(1, on=True, w_max_lim=6000.0))
            await reports.wait(lambda: reports.has("rb1", DeviceHealth.APPLIED, 1))
            assert [board.closed(c) for c in (0, 1, 2)] == [True, True, False]
            driver.apply(intent(2, on=False, w_max_lim=4500.0))  # the 30 % step: less than asked
            await reports.wait(lambda: reports.has("rb1", DeviceHealth.CLAMPED, 2))
            assert [board.closed(c) for c in (0, 1, 2)] == [False, False, True]
            writes = board.writes
            driver.apply(intent(3, on=False, w_max_lim=4500.0))  # a refresh: nothing to switch
            await reports.wait(lambda: reports.has("rb1", DeviceHealth.CLAMPED, 3))
            assert board.writes == writes
    finally:
        await board.server.stop()


async def test_sg_ready_contacts_on_the_board() -> None:
    board = SimulatedRelayBoard()
    port = await started(board)
    try:
        async with driving({"rb1": options(port, **SG_READY)}) as (driver, reports, _):
            steps = ((1, {"w_set": -3500.0}, [True, True]), (2, {"on": False}, [True, False]),
                     (3, {"w_set": -1500.0}, [False, True]))  # fmt: skip
            for seq, fields, pattern in steps:
                driver.apply(intent(seq, **fields))
                await reports.wait(lambda s=seq: reports.has("rb1", DeviceHealth.APPLIED, s))  # type: ignore[misc]
                assert [board.closed(4), board.closed(5)] == pattern
    finally:
        await board.server.stop()


async def test_a_contact_that_does_not_move_is_reported_not_applied() -> None:
    board = SimulatedRelayBoard()
    board.stuck.add(0)
    port = await started(board)
    try:
        async with driving({"rb1": options(port)}) as (driver, reports, _):
            driver.apply(intent(1, on=True))
            await reports.wait(lambda: reports.has("rb1", DeviceHealth.NOT_APPLIED, 1))
            assert "[0]" in (reports.latest("rb1") or pytest.fail("no report")).detail
    finally:
        await board.server.stop()


async def test_a_board_that_stops_answering_is_unreachable_and_set_again_when_back() -> None:
    board = SimulatedRelayBoard()
    port = await started(board)
    async with driving({"rb1": options(port)}) as (driver, reports, _):
        driver.apply(intent(1, on=True))
        await reports.wait(lambda: reports.has("rb1", DeviceHealth.APPLIED, 1))
        await board.server.stop()
        await reports.wait(lambda: reports.has("rb1", DeviceHealth.UNREACHABLE))
        replaced = SimulatedRelayBoard()  # power-cycled: every contact open
        await replaced.server.start("127.0.0.1", port)
        try:
            await reports.wait(lambda: reports.has("rb1", DeviceHealth.APPLIED, 1))
            assert replaced.closed(0)
        finally:
            await replaced.server.stop()


async def test_the_shutdown_state_is_set_when_the_gateway_stops() -> None:
    board = SimulatedRelayBoard()
    port = await started(board)
    try:
        async with driving({"rb1": options(port, **TABLE, shutdown_coils={0: False, 1: False})}) as (
            driver, reports, task,
        ):  # fmt: skip
            driver.apply(intent(1, on=True, w_max_lim=0.0))
            await reports.wait(lambda: reports.has("rb1", DeviceHealth.APPLIED, 1))
            assert [board.closed(c) for c in (0, 1, 2)] == [True, True, True]
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert [board.closed(c) for c in (0, 1, 2)] == [False, False, True]  # contact 2 keeps its state
    finally:
        await board.server.stop()


def test_a_relay_device_is_bound_only_to_what_its_table_switches() -> None:
    entry = {"id": "hp1", "class": "heat_pump", "protocol": "modbus-relay", "relay": {"host": "b", **TABLE}}
    assert DeviceEntry.model_validate({**entry, "w_max_lim": "@Control/MaxPow_FSCC1"}).relay is not None
    with pytest.raises(ValidationError, match=r"no contacts for \['w_set'\]"):
        DeviceEntry.model_validate({**entry, "w_set": "@Control/ActPow_FSCC1"})
    with pytest.raises(ValidationError, match="relay table goes with"):
        DeviceEntry.model_validate({**entry, "protocol": "mqtt"})
