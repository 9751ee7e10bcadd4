"""Written values that do not fit their attribute are refused (object-value-invalid), never truncated.

A real server with the scheduler behind it and open61850, which sends integers at whatever length they
need and UtcTimes as raw octets: what SCADA sends is either kept exactly or refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from open61850.data import IECData, IntData, RawData, UIntData
from open61850.mms import DataAccessError, MmsClient, ObjectName

from relevent.ports import free_port
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.policy import SchedulePolicy
from relevent.scl.model import SclDocument
from relevent.wan.mms import MmsServer, MmsSettings, ServerCreation, Verdict
from relevent.wan.mms.binding import SchedulerBinding
from tests.mms.support import HOST, LD
from tests.scheduler.harness import Harness, start_engine

PRIO = "ActPow_FSCH01$SP$SchdPrio$setVal"
START = "ActPow_FSCH01$SP$StrTm01$setTm"
RESERVE = "ActPow_Res_FSCH01"  # the model's only periodic start times are the reserves'
OCC = f"{RESERVE}$SP$StrTm01$setCal$occ"  # INT16U: an MMS Unsigned


@asynccontextmanager
async def scheduler_served(doc: SclDocument, db: Path) -> AsyncIterator[tuple[Harness, MmsClient]]:
    """The engine behind a served model (its reserve's start times unlocked), and an open61850 association."""
    h = start_engine(model_spec(doc), db, policies={f"{LD}/{RESERVE}": SchedulePolicy()})
    settings = MmsSettings(host=HOST, port=free_port())
    binding = SchedulerBinding(h.engine, doc, h.engine.model.ied_name)
    binding.start_mirroring()
    server = MmsServer(ServerCreation(doc, settings), binding)
    try:
        server.start()
        binding.attach(server)
        serving = asyncio.create_task(server.serve())
        client = await asyncio.to_thread(MmsClient.connect, HOST, settings.port)
        try:
            yield h, client
        finally:
            await asyncio.to_thread(client.close)
            server.stop()
            await serving
    finally:
        server.close()
        h.stop()


async def _write(client: MmsClient, item: str, value: IECData) -> int | None:
    """None when accepted, else the DataAccessError code."""
    try:
        await asyncio.to_thread(client.write, ObjectName(item, LD), value)
    except DataAccessError as refused:
        return refused.code
    return None


async def _read(client: MmsClient, item: str) -> object:
    data = await asyncio.to_thread(client.read, ObjectName(item, LD))
    return getattr(data, "value", data)


def _utc_time(seconds: int, fraction: int) -> RawData:
    """A UtcTime as its 8 octets: seconds, fraction of a second in 2^-24, time quality."""
    return RawData(0x91, seconds.to_bytes(4, "big") + fraction.to_bytes(3, "big") + b"\x00")


@pytest.mark.parametrize(
    "too_large",
    # 9 octets (was stored as 200), 20 octets (was -1), 201 octets (a long-form length), just past INT32
    [2**64 + 200, -(2**159), 2**1600, 2**31],
)
async def test_an_integer_beyond_its_attribute_is_refused_not_truncated(
    reference: SclDocument, tmp_path: Path, too_large: int
) -> None:
    async with scheduler_served(reference, tmp_path / "store.sqlite3") as (h, client):
        assert await _write(client, PRIO, IntData(77)) is None
        assert await _write(client, PRIO, IntData(too_large)) == Verdict.OBJECT_VALUE_INVALID
        assert await _read(client, PRIO) == 77
        assert h.value(f"{LD}/ActPow_FSCH01.SchdPrio.setVal") == 77


async def test_an_unsigned_beyond_its_attribute_is_refused_not_truncated(
    reference: SclDocument, tmp_path: Path
) -> None:
    async with scheduler_served(reference, tmp_path / "store.sqlite3") as (_, client):
        assert await _write(client, OCC, UIntData(2)) is None
        assert await _write(client, OCC, UIntData(2**32 + 5)) == Verdict.OBJECT_VALUE_INVALID  # was 5
        assert await _read(client, OCC) == 2


async def test_a_utc_time_beyond_the_representable_range_is_refused(
    reference: SclDocument, tmp_path: Path
) -> None:
    async with scheduler_served(reference, tmp_path / "store.sqlite3") as (h, client):
        last = 2**32 - 1
        assert await _write(client, START, _utc_time(last, 0)) is None  # the last whole second fits
        assert await _write(client, START, _utc_time(last, 0xFFFFFF)) == Verdict.OBJECT_VALUE_INVALID
        assert h.value(f"{LD}/ActPow_FSCH01.StrTm01.setTm") == float(last)
        read_back = await _read(client, START)
    assert read_back == datetime.fromtimestamp(last, UTC)  # not 1970-01-01
