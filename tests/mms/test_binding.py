"""The scheduler's binding to a real MMS server that comes up after the scheduler (the gateway's order).

The binding is prepared while libiec61850 still creates the server and the scheduler goes on; what changes
in between must be in the served model once it is attached, and nothing may fail before that.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from relevent.ports import free_port
from relevent.scheduler.commands import Accepted, Actor
from relevent.scheduler.discovery import model_spec
from relevent.scl.model import SclDocument
from relevent.wan.mms import MmsServer, MmsSettings, ServerCreation
from relevent.wan.mms.binding import SchedulerBinding
from tests.mms.iec_client import IecClient
from tests.mms.support import HOST, LD
from tests.scheduler.harness import start_engine

SCADA = Actor("mms", "192.0.2.10:50123", "operator")
PRIO = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"


async def test_changes_between_prepare_and_attach_are_served(
    reference: SclDocument, iec_client: IecClient, tmp_path: Path
) -> None:
    h = start_engine(model_spec(reference), tmp_path / "store.sqlite3")
    settings = MmsSettings(host=HOST, port=free_port())
    creation = ServerCreation(reference, settings)  # the server is being made ...
    binding = SchedulerBinding(h.engine, reference, h.engine.model.ied_name)
    binding.start_mirroring()
    assert isinstance(h.engine.write(PRIO, 77, SCADA), Accepted)  # ... meanwhile the scheduler goes on
    await asyncio.sleep(0)  # a loop turn with the change pending, no server attached: nothing may break
    server = MmsServer(creation, binding)  # waits for the creation
    try:
        server.start()
        binding.attach(server)
        serving = asyncio.create_task(server.serve())
        await iec_client.call("connect", HOST, settings.port)
        assert await iec_client.call("read", PRIO, "SP") == (77, 0)
        assert isinstance(h.engine.write(PRIO, 78, SCADA), Accepted)  # and every change after
        for _ in range(100):  # the mirror follows right after the change's burst
            if await iec_client.call("read", PRIO, "SP") == (78, 0):
                break
            await asyncio.sleep(0.01)
        assert await iec_client.call("read", PRIO, "SP") == (78, 0)
        await iec_client.call("close")
        server.stop()
        await serving
    finally:
        server.close()
        h.stop()
