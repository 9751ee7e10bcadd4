"""A fault inside the command handler: answered negatively on the wire, and the next command still placed.

In-process (the fault is injected into the core's intent API the outstation calls), with c104's real
server and a real c104 client as the SCADA on loopback.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from relevent.ports import free_port
from relevent.scheduler.intents import Answer, Intents
from relevent.scheduler.verdicts import ActorSlots, Intent
from relevent.wan.iec104.config import Iec104Point, Iec104Section
from relevent.wan.iec104.service import iec104_service
from tests.iec104.link import SetpointScada, link_up
from tests.mosquitto import wait_until
from tests.scheduler.factory import ln, small_spec
from tests.scheduler.harness import Harness, start_engine

SETPOINT = 3001
SLOT, FSCC = ln("F_FSCH01"), ln("F_FSCC1")
SHARES = {"dso": ActorSlots((60, 69), (SLOT,))}


class FailingOnce(Intents):
    """The real intent API, except that the first placement raises (a bug deep in the core, say)."""

    failed = False

    def place_soon(self, intent: Intent, answer: Answer) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("injected fault")
        super().place_soon(intent, answer)


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
        # A SCADA dialling before the server listens is refused, and c104's client reconnecting a second
        # later then often never starts its link.
        await wait_until(lambda: served.listening, 5.0)
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
        scada = await asyncio.to_thread(link_up, lambda: SetpointScada(port, SETPOINT), 3.0)
        assert scada is not None, "the SCADA never got the link up"
        try:
            # the fault: a negative ACT_CON, not c104's positive default
            assert not await asyncio.to_thread(scada.send, 4.0)
            assert h.engine.intent_keys() == {}
            # the handler is still registered and the core still reached
            assert await asyncio.to_thread(scada.send, 5.0)
            assert h.value(f"{SLOT}.ValASG001.setMag.f") == pytest.approx(5.0)
            assert h.engine.intent_keys() == {SLOT: "dso/iec104:" + FSCC + ":MaxPow"}
        finally:
            scada.client.stop()
