"""The server seen by open61850, an independent pure-Python client: model, mirror, reports, load.

open61850's calls block, so they run in threads (`asyncio.to_thread`) while the loop serves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from open61850.data import BitStringData, IntData, StructureData, TimestampData
from open61850.mms import (
    ControlError,
    DataAccessError,
    InformationReport,
    MmsClient,
    ObjectName,
    Report,
    decode_report,
    discover,
    is_report,
    operate,
    rcb,
)
from open61850.quality import Quality

from relevent.scl.model import SclDocument
from relevent.wan.mms import AddCause, ControlVerdict, MmsServer, Verdict
from tests.mms.support import HOST, LD, PolicyGate, running

VALMV = f"{LD}/ActPow_FSCC1.ValMV.mag.f"
SCHDST = f"{LD}/ActPow_FSCH01.SchdSt.stVal"
STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


ReportListener = Callable[[InformationReport], None]


async def _connect(server: MmsServer, on_report: ReportListener | None = None) -> MmsClient:
    port = server.settings.port
    return await asyncio.to_thread(MmsClient.connect, HOST, port, on_information_report=on_report)


async def _read(client: MmsClient, item: str) -> Any:
    return await asyncio.to_thread(client.read, ObjectName(item, LD))


def _value_q_t(data: Any) -> tuple[Any, str, datetime]:
    """(value, validity, t) of an MV or status data object read as a structure."""
    assert isinstance(data, StructureData)
    value, quality, stamp = data.members[:3]
    if isinstance(value, StructureData):  # AnalogueValue
        value = value.members[0]
    assert isinstance(quality, BitStringData)
    assert isinstance(stamp, TimestampData)
    return getattr(value, "value", value), Quality.from_bitstring(quality).validity, stamp.value


async def test_open61850_discovers_the_scl_model_and_the_auto_report_blocks(reference: SclDocument) -> None:
    async with running(reference, PolicyGate()) as server:
        client = await _connect(server)
        try:
            model = await asyncio.to_thread(discover, client)
        finally:
            client.close()
    ld = reference.ieds[0].ldevices[0]
    assert list(model.logical_devices) == [ld.name]
    served = model.logical_devices[ld.name].logical_nodes
    assert sorted(served) == sorted(ln.name for ln in ld.lns)
    for ln in ld.lns:
        assert sorted(served[ln.name].data_objects()) == sorted(do.name for do in ln.type.data_objects)
    lln0 = served["LLN0"]
    assert lln0.data_sets == ["dsSched"]
    blocks = {ref.path[0] for ref in lln0.control_blocks()}
    assert blocks == {f"urcbSched0{i}" for i in range(1, 6)} | {"brcbSched01", "brcbSched02"}


async def test_mirrored_value_quality_and_time_read_back(reference: SclDocument) -> None:
    async with running(reference, PolicyGate()) as server:
        client = await _connect(server)
        try:
            server.update(VALMV, 12.5, True, STAMP)
            assert _value_q_t(await _read(client, "ActPow_FSCC1$MX$ValMV")) == (12.5, "good", STAMP)
            server.update(VALMV, 3, True, STAMP)  # an int for a float is converted, not stored as raw bits
            assert _value_q_t(await _read(client, "ActPow_FSCC1$MX$ValMV"))[0] == 3.0
            server.update(VALMV, -3.25, False, STAMP + timedelta(seconds=1))
            server.update(SCHDST, 4, True, STAMP + timedelta(seconds=2))
            server.update(f"{LD}/ActPow_FSCC1.ActSchdRef.stVal", f"{LD}/ActPow_FSCH01", True, STAMP)
            valmv = _value_q_t(await _read(client, "ActPow_FSCC1$MX$ValMV"))
            assert valmv == (-3.25, "invalid", STAMP + timedelta(seconds=1))
            schdst = _value_q_t(await _read(client, "ActPow_FSCH01$ST$SchdSt"))
            assert schdst == (4, "good", STAMP + timedelta(seconds=2))
            active = _value_q_t(await _read(client, "ActPow_FSCC1$ST$ActSchdRef"))
            assert active[0] == f"{LD}/ActPow_FSCH01"
        finally:
            client.close()


@pytest.mark.parametrize(
    ("ref", "value", "error"),
    [
        (VALMV, "12", TypeError),
        (VALMV, True, TypeError),
        (SCHDST, 1.5, TypeError),
        (SCHDST, 300, ValueError),  # enums are 8-bit
        (f"{LD}/ActPow_FSCC1.ActSchdRef.stVal", "x" * 200, ValueError),
        (f"{LD}/ActPow_FSCC1.ValMV.mag", 1.0, KeyError),  # not a leaf
        (f"{LD}/ActPow_FSCC1.NoSuch.stVal", 1, KeyError),
    ],
)
async def test_a_mirror_update_that_does_not_fit_changes_nothing(
    reference: SclDocument, ref: str, value: Any, error: type[Exception]
) -> None:
    async with running(reference, PolicyGate()) as server:
        client = await _connect(server)
        try:
            items = ("ActPow_FSCH01$ST$SchdSt", "ActPow_FSCC1$MX$ValMV")
            before = [await _read(client, item) for item in items]
            with pytest.raises(error):
                server.update(ref, value, True, STAMP)
            after = [await _read(client, item) for item in items]
            assert after == before
            with pytest.raises(ValueError, match="timezone-aware"):
                server.update(SCHDST, 3, True, datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
        finally:
            client.close()


class _Reports:
    """Collects decoded reports from open61850's receive thread and wakes the loop on each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.received: list[Report] = []
        self._loop = loop
        self._arrived = asyncio.Event()
        self._lock = threading.Lock()

    def __call__(self, message: InformationReport) -> None:
        if is_report(message):
            with self._lock:
                self.received.append(decode_report(message))
            self._loop.call_soon_threadsafe(self._arrived.set)

    async def first(self, matches: Callable[[Report], bool], timeout_s: float = 5.0) -> Report:
        async with asyncio.timeout(timeout_s):
            while True:
                with self._lock:
                    found = next((r for r in self.received if matches(r)), None)
                if found is not None:
                    return found
                self._arrived.clear()
                await self._arrived.wait()


def _because(reason: str) -> Callable[[Report], bool]:
    """Matches reports with an entry included for `reason` (a ReasonCode flag)."""
    return lambda report: any(e.reason is not None and getattr(e.reason, reason) for e in report.entries)


def _entry(report: Report, member: str) -> Any:
    return next(e for e in report.entries if e.reference == f"{LD}/{member}")


@pytest.mark.parametrize("block", ["urcbSched01", "brcbSched02"])
async def test_auto_report_blocks_deliver_gi_and_mirrored_changes(reference: SclDocument, block: str) -> None:
    reports = _Reports(asyncio.get_running_loop())
    async with running(reference, PolicyGate()) as server:
        client = await _connect(server, reports)
        try:
            fc = "BR" if block.startswith("b") else "RP"
            settings = rcb.RcbSettings(trg_ops=None, opt_flds=None, intg_pd_ms=None)  # the server's defaults
            await asyncio.to_thread(rcb.enable, client, ObjectName(f"LLN0${fc}${block}", LD), settings)
            gi = await reports.first(_because("general_interrogation"))
            assert gi.data_set == f"{LD}/LLN0$dsSched"
            assert len(gi.entries) == 3 * 13  # per function: FSCC ValMV, ActSchdRef, 11 SchdSt

            server.update(VALMV, 42.0, True, STAMP)
            server.update(SCHDST, 3, True, STAMP)
            changed = await reports.first(_because("data_change"))
            assert _value_q_t(_entry(changed, "ActPow_FSCH01$ST$SchdSt").value) == (3, "good", STAMP)
            updated = await reports.first(_because("data_update"))
            assert _value_q_t(_entry(updated, "ActPow_FSCC1$MX$ValMV").value) == (42.0, "good", STAMP)
        finally:
            client.close()


async def test_open61850_sees_the_gate_errors_and_add_causes(reference: SclDocument) -> None:
    prio = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
    refused = ControlVerdict(Verdict.OBJECT_VALUE_INVALID, AddCause.INCONSISTENT_PARAMETERS)
    gate = PolicyGate(
        rules={prio: lambda v: Verdict.SUCCESS if v == 1 else Verdict.OBJECT_VALUE_INVALID},
        controls={f"{LD}/ActPow_FSCH02.EnaReq": refused},
    )
    async with running(reference, gate) as server:
        client = await _connect(server)
        try:
            target = ObjectName("ActPow_FSCH01$SP$SchdPrio$setVal", LD)
            await asyncio.to_thread(client.write, target, IntData(1))
            with pytest.raises(DataAccessError) as invalid:
                await asyncio.to_thread(client.write, target, IntData(2))
            assert invalid.value.code == Verdict.OBJECT_VALUE_INVALID
            assert await asyncio.to_thread(client.read, target) == IntData(1)
            await asyncio.to_thread(operate, client, f"{LD}/ActPow_FSCH01.EnaReq", True)
            with pytest.raises(ControlError) as rejected:
                await asyncio.to_thread(operate, client, f"{LD}/ActPow_FSCH02.EnaReq", True)
            assert rejected.value.last_appl_error is not None
            assert rejected.value.last_appl_error.add_cause == AddCause.INCONSISTENT_PARAMETERS
        finally:
            client.close()


async def test_four_clients_at_once_for_two_seconds(reference: SclDocument) -> None:
    prio = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
    gate = PolicyGate(rules={prio: lambda _: Verdict.SUCCESS})

    def work(client: MmsClient, index: int, until: float) -> int:
        done = 0
        while time.monotonic() < until:
            if index % 3 == 0:
                client.write(ObjectName("ActPow_FSCH01$SP$SchdPrio$setVal", LD), IntData(done % 100))
            elif index % 3 == 1:
                operate(client, f"{LD}/ActPow_FSCH0{index}.EnaReq", True, ctl_model=1)
            else:
                assert isinstance(client.read(ObjectName("ActPow_FSCC1$MX$ValMV", LD)), StructureData)
            done += 1
        return done

    async with running(reference, gate) as server:
        # As many as may associate at once: libiec61850's 5 slots but the one kept free for the next client.
        clients = [await _connect(server) for _ in range(4)]
        try:
            assert server.connections == 4
            until = time.monotonic() + 2.0
            workers = asyncio.gather(*(asyncio.to_thread(work, c, i, until) for i, c in enumerate(clients)))
            sample = 0
            while not workers.done():  # the mirror keeps updating while the clients hammer the server
                server.update(VALMV, float(sample), True, datetime.now(UTC))
                sample += 1
                await asyncio.sleep(0.005)
            counts = await workers
        finally:
            for client in clients:
                client.close()
    assert min(counts) > 50, counts
    assert len(gate.operates) == counts[1]
    assert len(gate.writes) == counts[0] + counts[3]
