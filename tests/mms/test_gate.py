"""Writes and operates reach the gate, and its verdicts reach a libiec61850 client in another process."""

from __future__ import annotations

import pyiec61850.pyiec61850 as iec
import pytest

from relevent.config import ServeMode
from relevent.scheduler.commands import Actor
from relevent.scl.model import SclDocument
from relevent.wan.mms import AddCause, ControlVerdict, Verdict, WriteValue
from tests.mms.iec_client import IecClient
from tests.mms.support import BOTH_SERVES, HOST, LD, PolicyGate, running

PRIO = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
VALUE = f"{LD}/ActPow_FSCH01.ValASG001.setMag.f"
NUM_ENTR = f"{LD}/ActPow_FSCH01.NumEntr.setVal"
INVALID_BY_PROCESS = ControlVerdict(Verdict.OBJECT_VALUE_INVALID, AddCause.BLOCKED_BY_PROCESS)
DENIED_BY_MODE = ControlVerdict(Verdict.OBJECT_ACCESS_DENIED, AddCause.BLOCKED_BY_MODE)


def _priority(value: WriteValue) -> Verdict:
    """0..100 accepted, larger values invalid, negative (and non-integer) ones denied."""
    if not isinstance(value, int) or value < 0:
        return Verdict.OBJECT_ACCESS_DENIED
    return Verdict.SUCCESS if value <= 100 else Verdict.OBJECT_VALUE_INVALID


def _setpoint(value: WriteValue) -> Verdict:
    valid = isinstance(value, float) and abs(value) <= 1000
    return Verdict.SUCCESS if valid else Verdict.OBJECT_VALUE_INVALID


@pytest.fixture
def gate() -> PolicyGate:
    return PolicyGate(
        rules={PRIO: _priority, VALUE: _setpoint},
        controls={
            f"{LD}/ActPow_FSCH02.EnaReq": INVALID_BY_PROCESS,
            f"{LD}/ActPow_FSCH03.EnaReq": DENIED_BY_MODE,
        },
    )


@BOTH_SERVES
async def test_gate_verdicts_reach_the_client_and_only_accepted_values_land(
    reference: SclDocument, gate: PolicyGate, iec_client: IecClient, serve: ServeMode
) -> None:
    async with running(reference, gate, serve=serve) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        assert await iec_client.call("write", PRIO, "SP", 42) == iec.IED_ERROR_OK
        assert await iec_client.call("write", PRIO, "SP", 500) == iec.IED_ERROR_OBJECT_VALUE_INVALID
        assert await iec_client.call("write", PRIO, "SP", -1) == iec.IED_ERROR_ACCESS_DENIED
        assert await iec_client.call("read", PRIO, "SP") == (42, 0)

        assert await iec_client.call("write", VALUE, "SP", 12.5) == iec.IED_ERROR_OK
        assert await iec_client.call("write", VALUE, "SP", 5000.0) == iec.IED_ERROR_OBJECT_VALUE_INVALID
        assert await iec_client.call("read", VALUE, "SP") == (12.5, 0)

    assert [(ref, value) for ref, value, _ in gate.writes] == [
        (PRIO, 42), (PRIO, 500), (PRIO, -1), (VALUE, 12.5), (VALUE, 5000.0),
    ]
    actor = gate.writes[0][2]
    assert actor.protocol == "mms"
    assert actor.peer.startswith(f"{HOST}:")
    assert actor.user is None


async def test_writes_the_gate_does_not_claim_are_denied_without_asking_it(
    reference: SclDocument, gate: PolicyGate, iec_client: IecClient
) -> None:
    async with running(reference, gate) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        before = await iec_client.call("read", NUM_ENTR, "SP")
        assert await iec_client.call("write", NUM_ENTR, "SP", 7) == iec.IED_ERROR_ACCESS_DENIED
        assert await iec_client.call("read", NUM_ENTR, "SP") == before
        ctl_model = f"{LD}/ActPow_FSCH01.EnaReq.ctlModel"
        assert await iec_client.call("write", ctl_model, "CF", 0) == iec.IED_ERROR_ACCESS_DENIED
        assert await iec_client.call("read", ctl_model, "CF") == (1, 0)
        assert await iec_client.call("write", f"{LD}/ActPow_FSCH01.SchdSt.stVal", "ST", 4) != iec.IED_ERROR_OK
    assert gate.writes == []


@BOTH_SERVES
async def test_operates_are_decided_by_the_gate_with_their_add_cause(
    reference: SclDocument, gate: PolicyGate, iec_client: IecClient, serve: ServeMode
) -> None:
    async with running(reference, gate, serve=serve) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        assert await iec_client.call("operate", f"{LD}/ActPow_FSCH01.EnaReq", True) == (True, 0, 0)
        assert await iec_client.call("operate", f"{LD}/ActPow_FSCH01.DsaReq", True, True) == (True, 0, 0)
        accepted, _, cause = await iec_client.call("operate", f"{LD}/ActPow_FSCH02.EnaReq", True)
        assert (accepted, cause) == (False, AddCause.BLOCKED_BY_PROCESS)
        accepted, error, cause = await iec_client.call("operate", f"{LD}/ActPow_FSCH03.EnaReq", True)
        assert (accepted, error, cause) == (False, iec.IED_ERROR_ACCESS_DENIED, AddCause.BLOCKED_BY_MODE)

    assert [(ref.rsplit("/", 1)[1], value, test) for ref, value, test, _ in gate.operates] == [
        ("ActPow_FSCH01.EnaReq", True, False),
        ("ActPow_FSCH01.DsaReq", True, True),
        ("ActPow_FSCH02.EnaReq", True, False),
        ("ActPow_FSCH03.EnaReq", True, False),
    ]
    assert gate.operates[0][3].peer.startswith(f"{HOST}:")


class _BrokenGate(PolicyGate):
    def write(self, ref: str, value: WriteValue, actor: Actor) -> Verdict:  # noqa: ARG002
        raise RuntimeError("scheduler bug")

    def operate(self, ref: str, ctl_val: object, test: bool, actor: Actor) -> ControlVerdict:  # noqa: ARG002
        raise RuntimeError("scheduler bug")


@BOTH_SERVES
async def test_a_failing_gate_rejects_instead_of_accepting(
    reference: SclDocument, iec_client: IecClient, capsys: pytest.CaptureFixture[str], serve: ServeMode
) -> None:
    async with running(reference, _BrokenGate(rules={PRIO: _priority}), serve=serve) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        before = await iec_client.call("read", PRIO, "SP")
        assert await iec_client.call("write", PRIO, "SP", 42) == iec.IED_ERROR_ACCESS_DENIED
        assert await iec_client.call("read", PRIO, "SP") == before
        accepted, _, _ = await iec_client.call("operate", f"{LD}/ActPow_FSCH01.EnaReq", True)
        assert not accepted
    logged = capsys.readouterr().out
    assert "mms write handler failed" in logged
    assert "mms control check failed" in logged


def test_gate_codes_are_libiec61850_codes() -> None:
    for verdict in Verdict:
        name = verdict.name.replace("NON_EXISTENT", "NONE_EXISTENT")  # libiec61850's spelling
        assert verdict == getattr(iec, f"DATA_ACCESS_ERROR_{name}")
    for cause in AddCause:
        name = cause.name.replace("ONE_OF_N", "1_OF_N")
        assert cause == getattr(iec, f"ADD_CAUSE_{name}")


def test_a_gate_claiming_what_is_no_sp_leaf_is_refused(reference: SclDocument) -> None:
    from relevent.wan.mms import MmsServer, MmsSettings  # noqa: PLC0415

    status, structure, missing = "SchdSt.stVal", "ValASG001.setMag", "NoSuchDO.setVal"
    not_sp_leaves = [f"{LD}/ActPow_FSCH01.{path}" for path in (status, structure, missing)]
    for ref in not_sp_leaves:
        with pytest.raises(ValueError, match="the gate claims"):
            MmsServer.build(reference, PolicyGate(rules={ref: _priority}), MmsSettings(port=1))
