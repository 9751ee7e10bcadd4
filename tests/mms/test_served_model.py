"""The served model seen by a libiec61850 client in another process: structure and initial values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from relevent.scl.model import SclDocument, Value, iter_attributes
from tests.conftest import MODEL_NAMES
from tests.mms.iec_client import IecClient
from tests.mms.support import HOST, LD, PolicyGate, running


@pytest.mark.parametrize("model", MODEL_NAMES)
async def test_browsing_shows_every_ld_ln_and_do_of_the_scl(
    model: str, docs: Callable[[str], SclDocument], iec_client: IecClient
) -> None:
    ied = docs(model).ieds[0]
    async with running(docs(model), PolicyGate()) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        assert await iec_client.call("logical_devices") == [ld.name for ld in ied.ldevices]
        for ld in ied.ldevices:
            assert sorted(await iec_client.call("logical_nodes", ld.name)) == sorted(ln.name for ln in ld.lns)
            for ln in ld.lns:
                served = await iec_client.call("data_objects", f"{ld.name}/{ln.name}")
                assert sorted(served) == sorted(do.name for do in ln.type.data_objects), ln.name


def _expected(value: Value) -> object:
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-6)
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


@pytest.mark.parametrize("model", MODEL_NAMES)
async def test_every_instance_value_of_the_scl_is_served(
    model: str, docs: Callable[[str], SclDocument], iec_client: IecClient
) -> None:
    ied = docs(model).ieds[0]
    async with running(docs(model), PolicyGate()) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        checked = 0
        for ld in ied.ldevices:
            for ln in ld.lns:
                fcs = {path: fc for path, fc, _ in iter_attributes(ln.type)}
                for path, value in ln.values.items():
                    ref = f"{ld.name}/{ln.name}.{path}"
                    assert await iec_client.call("read", ref, fcs[path]) == (_expected(value), 0), ref
                    checked += 1
        assert checked > 0


@pytest.mark.parametrize(
    ("ref", "fc", "expected"),
    [
        ("ActPow_Res_FSCH01.SchdIntv.setVal", "SP", 3600),
        ("ActPow_FSCC1.CtlEnt.setSrcRef", "SP", "@Control/ActPow_GGIO1.AnOut1.mxVal.f"),
        ("ActPow_FSCH01.SchdEnaErr.stVal", "ST", 1),  # enum, served as its ordinal
        ("ActPow_FSCH01.EnaReq.ctlModel", "CF", 1),  # direct-with-normal-security
        ("ActPow_FSCH01.SchdSt.q", "ST", 0),
    ],
)
async def test_reference_model_values(
    ref: str, fc: str, expected: object, docs: Callable[[str], SclDocument], iec_client: IecClient
) -> None:
    async with running(docs("der_scheduler"), PolicyGate()) as server:
        await iec_client.call("connect", HOST, server.settings.port)
        assert await iec_client.call("read", f"{LD}/{ref}", fc) == (expected, 0)


async def test_only_attributes_in_a_data_set_count_as_reported(reference: SclDocument) -> None:
    async with running(reference, PolicyGate()) as server:
        model = server.model
        assert model.is_reported(f"{LD}/ActPow_FSCC1.ValMV.mag.f")  # the auto data set holds ValMV
        assert model.is_reported(f"{LD}/ActPow_FSCH07.SchdSt.stVal")
        assert not model.is_reported(f"{LD}/ActPow_FSCH07.SchdEntr.stVal")  # written in place
        assert not model.is_reported(f"{LD}/ActPow_FSCH07.ValMV.mag.f")
