"""A fault inside the command handler: answered negatively on the wire, and the next command still placed.

In-process (the fault is injected into the core's intent API the outstation calls), with c104's real
server and a real c104 client as the SCADA on loopback.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import c104
import pytest
from prometheus_client import CollectorRegistry

from relevent.ports import free_port
from relevent.scheduler.intents import Intents
from relevent.scheduler.verdicts import ActorSlots, Intent, Verdict
from relevent.wan.iec104.config import Iec104Point, Iec104Section
from relevent.wan.iec104.service import iec104_service
from tests.iec104.link import link_up
from tests.scheduler.factory import ln, small_spec
from tests.scheduler.harness import Harness, start_engine

SETPOINT = 3001
SLOT, FSCC = ln("F_FSCH01"), ln("F_FSCC1")
SHARES = {"dso": ActorSlots((60, 69), (SLOT,))}


class FailingOnce(Intents):
    """The real intent API, except that the first placement raises (a bug deep in the core, say)."""

    failed = False

    def place(self, intent: Intent) -> Verdict:
        if not self.failed:
            self.failed = True
            raise RuntimeError("injected fault")
        return super().place(intent)


class Scada:
    """A c104 client with one setpoint point."""

    def __init__(self, port: int) -> None:
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=5000)
        connection = self.client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
        assert connection is not None
        self.connection = connection
        station = connection.add_station(common_address=1)
        assert station is not None
        point = station.add_point(io_address=SETPOINT, type=c104.Type.C_SE_NC_1)
        assert point is not None
        self.point = point

    async def send(self, value: float) -> bool:
        self.point.value = value
        return bool(await asyncio.to_thread(self.point.transmit, c104.Cot.ACTIVATION))


class NoDevices:
    def measured_w(self, device_id: str) -> float | None:  # noqa: ARG002 - the protocol's signature
        return None

    def reachable(self, device_id: str) -> bool | None:  # noqa: ARG002 - the protocol's signature
        return None


@asynccontextmanager
async def outstation(tmp_path: Path, port: int) -> AsyncIterator[Harness]:
    """The outstation on `port` with a started engine behind the failing intent API."""
    h = start_engine(small_spec(), tmp_path / "state.db")
    intents = FailingOnce(h.engine, SHARES, now=h.clock.now, devices={})
    point = Iec104Point(ioa=SETPOINT, type="C_SE_NC_1", target=FSCC, function="MaxPow")
    section = Iec104Section(enabled=True, port=port, points=(point,))
    served = iec104_service(section, h.engine, intents, SHARES, devices=NoDevices(), device_ids=(),
                            registry=CollectorRegistry(), clock=time.time,
                            refused=lambda *_: None)  # fmt: skip
    assert served is not None
    task = asyncio.create_task(served.run())
    try:
        yield h
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        h.stop()


async def test_an_exception_in_the_handler_is_a_negative_act_con_and_later_commands_reach_the_core(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with outstation(tmp_path, port) as h:
        scada = await asyncio.to_thread(link_up, lambda: Scada(port), 5.0)
        assert scada is not None, "the SCADA never got the link up"
        try:
            assert not await scada.send(4.0)  # the fault: a negative ACT_CON, not c104's positive default
            assert h.engine.intent_keys() == {}
            assert await scada.send(5.0)  # the handler is still registered and the core still reached
            assert h.value(f"{SLOT}.ValASG001.setMag.f") == pytest.approx(5.0)
            assert h.engine.intent_keys() == {SLOT: "dso/iec104:" + FSCC + ":MaxPow"}
        finally:
            scada.client.stop()
