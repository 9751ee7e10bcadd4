"""Thousands of write handlers registered in linear time still guard every attribute, first to last."""

from __future__ import annotations

import pyiec61850.pyiec61850 as iec
import pytest
from structlog.testing import capture_logs

from relevent.scl.model import SclDocument, iter_attributes
from relevent.wan.mms import Verdict, WriteValue, write_table
from tests.mms.iec_client import IecClient
from tests.mms.support import HOST, PolicyGate, running


def _accept(_: WriteValue) -> Verdict:
    return Verdict.SUCCESS


def _schedule_setpoints(doc: SclDocument) -> list[str]:
    """Every FC SP leaf of every schedule (FSCH) of the document, in model order."""
    return [
        f"{ld.name}/{ln.name}.{path}"
        for ied in doc.ieds
        for ld in ied.ldevices
        for ln in ld.lns
        if ln.name.split("_")[-1].startswith("FSCH")
        for path, fc, attr in iter_attributes(ln.type)
        if fc == "SP" and attr.struct is None and attr.btype in {"INT32", "FLOAT32"}
    ]


async def _write_first_middle_last(doc: SclDocument, iec_client: IecClient, *, linear: bool) -> None:
    refs = _schedule_setpoints(doc)
    assert len(refs) > 1000
    gate = PolicyGate(rules=dict.fromkeys(refs, _accept))
    picked = [refs[0], refs[len(refs) // 2], refs[-1]]
    async with running(doc, gate) as server:
        assert server.handlers is not None
        assert server.handlers.write_table is not None
        assert server.handlers.write_table.linear is linear
        await iec_client.call("connect", HOST, server.settings.port)
        for ref in picked:
            value = 7.5 if ref.endswith(".f") else 7
            assert await iec_client.call("write", ref, "SP", value) == iec.IED_ERROR_OK, ref
            assert (await iec_client.call("read", ref, "SP"))[0] == value, ref
    assert [ref for ref, _, _ in gate.writes] == picked


async def test_linking_the_handlers_in_guards_the_first_the_middle_and_the_last(
    reference: SclDocument, iec_client: IecClient
) -> None:
    await _write_first_middle_last(reference, iec_client, linear=True)


async def test_without_the_expected_layout_every_handler_goes_through_the_api(
    reference: SclDocument, iec_client: IecClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_table, "_find_element", lambda *_: None)  # as with an unknown library build
    await _write_first_middle_last(reference, iec_client, linear=False)


def test_the_installed_library_is_the_build_the_table_was_verified_with() -> None:
    # fails when the pinned pyiec61850-ng changes: check the new build's layout, then add its digest
    assert write_table.loaded_build() in write_table.PINNED_BUILDS


async def test_another_library_build_is_never_patched_and_every_handler_goes_through_the_api(
    reference: SclDocument, iec_client: IecClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def probe(*_: object) -> None:
        raise AssertionError("the private memory of an unverified build was probed")

    monkeypatch.setattr(write_table, "PINNED_BUILDS", frozenset({"0" * 64}))
    monkeypatch.setattr(write_table, "_find_element", probe)
    with capture_logs() as logs:
        await _write_first_middle_last(reference, iec_client, linear=False)
    unverified = [e for e in logs if e["event"].startswith("libiec61850 is not a build")]
    assert [(e["log_level"], e["sha256"]) for e in unverified] == [("warning", write_table.loaded_build())]


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ("ActPow_FSCH01.SchdSt.stVal", "not an FC SP leaf"),
        ("ActPow_FSCH01.ValASG001.setMag", "not a basic attribute"),
        ("ActPow_FSCH99.SchdPrio.setVal", "not a basic attribute"),
    ],
)
async def test_a_gate_claiming_what_no_write_handler_can_guard_is_refused(
    reference: SclDocument, claim: str, message: str
) -> None:
    ld = reference.ieds[0].ldevices[0].name
    gate = PolicyGate(rules={f"{ld}/{claim}": _accept})
    with pytest.raises(ValueError, match=message):
        async with running(reference, gate):
            pass
