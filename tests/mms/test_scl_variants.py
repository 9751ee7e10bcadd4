"""SCL features the reference models lack: functional LD naming (ldName), the SCL's own report blocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from lxml import etree
from open61850.mms import (
    InformationReport,
    MmsClient,
    ObjectName,
    decode_report,
    discover,
    is_report,
    operate,
    rcb,
)

from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.model import SclDocument
from relevent.scl.parse import SCL_NS, loads
from tests.mms.support import HOST, PolicyGate, running


def _shipped_with_ldname_and_report_block() -> SclDocument:
    root = etree.fromstring(DEFAULT_MODEL.read_bytes())
    ns = {"scl": SCL_NS}
    ld = root.find(".//scl:LDevice", ns)
    assert ld is not None
    ld.set("ldName", "Site7Sched")
    lln0 = ld.find("scl:LN0", ns)
    assert lln0 is not None
    dataset = etree.SubElement(lln0, f"{{{SCL_NS}}}DataSet", name="dsOut")
    etree.SubElement(dataset, f"{{{SCL_NS}}}FCDA", ldInst="Control", prefix="MaxPow_", lnClass="FSCC",
                     lnInst="1", doName="ValMV", fc="MX")
    block = etree.SubElement(lln0, f"{{{SCL_NS}}}ReportControl", name="urcbOut", datSet="dsOut", rptID="out",
                             confRev="1", buffered="false", bufTime="0")
    etree.SubElement(block, f"{{{SCL_NS}}}TrgOps", dchg="true", dupd="true", gi="true")
    etree.SubElement(block, f"{{{SCL_NS}}}OptFields", seqNum="true", dataSet="true", dataRef="true")
    etree.SubElement(block, f"{{{SCL_NS}}}RptEnabled", max="2")
    # the SCL's DataSets come before its ReportControls, which come before the DOIs
    for element in (block, dataset):
        lln0.remove(element)
        lln0.insert(0, element)
    return loads(etree.tostring(root), path="shipped+ldName+rcb")


async def test_functional_ld_name_and_the_scl_report_blocks_are_served() -> None:
    doc = _shipped_with_ldname_and_report_block()
    received: list[tuple[str, str | None, str]] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_report(message: InformationReport) -> None:
        if is_report(message):
            report = decode_report(message)
            received.extend((report.rpt_id, e.reference, repr(e.value)) for e in report.entries)
            loop.call_soon_threadsafe(arrived.set)

    async with running(doc, PolicyGate(), reports="scl") as server:
        assert server.report_blocks == ["Site7Sched/LLN0.urcbOut01", "Site7Sched/LLN0.urcbOut02"]
        port = server.settings.port
        client = await asyncio.to_thread(MmsClient.connect, HOST, port, on_information_report=on_report)
        try:
            model = await asyncio.to_thread(discover, client)
            assert list(model.logical_devices) == ["Site7Sched"]
            assert model.logical_devices["Site7Sched"].logical_nodes["LLN0"].data_sets == ["dsOut"]
            keep_scl = rcb.RcbSettings(
                trg_ops=None, opt_flds=None, intg_pd_ms=None, general_interrogation=False
            )
            block = ObjectName("LLN0$RP$urcbOut01", "Site7Sched")
            await asyncio.to_thread(rcb.enable, client, block, keep_scl)
            server.update("Site7Sched/MaxPow_FSCC1.ValMV.mag.f", 7.5, True, datetime.now(UTC))
            async with asyncio.timeout(5):
                await arrived.wait()
        finally:
            client.close()
    [(rpt_id, reference, value)] = received
    assert (rpt_id, reference) == ("out", "Site7Sched/MaxPow_FSCC1$MX$ValMV")
    assert "float32(7.5)" in value


async def test_scl_mode_without_scl_blocks_serves_none(reference: SclDocument) -> None:
    async with running(reference, PolicyGate(), reports="scl") as server:
        assert server.report_blocks == []


def _shipped_with_sbo_enable() -> SclDocument:
    """MaxPow_FSCH01.EnaReq as select-before-operate with normal security (its type gains SBO)."""
    root = etree.fromstring(DEFAULT_MODEL.read_bytes())
    ns = {"scl": SCL_NS}
    spc = root.find(".//scl:DOType[@id='DERScheduler_SPC_direct']", ns)
    assert spc is not None
    etree.SubElement(spc, f"{{{SCL_NS}}}DA", name="SBO", bType="ObjRef", fc="CO")
    schedule = root.find(".//scl:LN[@prefix='MaxPow_'][@lnClass='FSCH'][@inst='01']", ns)
    assert schedule is not None
    doi = etree.SubElement(schedule, f"{{{SCL_NS}}}DOI", name="EnaReq")
    dai = etree.SubElement(doi, f"{{{SCL_NS}}}DAI", name="ctlModel")
    etree.SubElement(dai, f"{{{SCL_NS}}}Val").text = "sbo-with-normal-security"
    return loads(etree.tostring(root), path="shipped+sbo")


async def test_select_before_operate_asks_the_gate_once_at_operate() -> None:
    enable = "DER_Scheduler_Control/MaxPow_FSCH01.EnaReq"
    gate = PolicyGate()
    async with running(_shipped_with_sbo_enable(), gate) as server:
        client = await asyncio.to_thread(MmsClient.connect, HOST, server.settings.port)
        try:
            result = await asyncio.to_thread(operate, client, enable, True)
        finally:
            client.close()
    assert result.ctl_model == 2
    assert [(ref, value) for ref, value, *_ in gate.operates] == [(enable, True)]
