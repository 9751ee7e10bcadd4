"""Writing the instance part of the default model: header, communication, the IED and one LD per device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relevent.scheduler.periodic import OccurrenceKind, Period
from relevent.scl.generate.functions import FUNCTIONS, RESERVE_INTERVAL_S, RESERVE_START, Function
from relevent.scl.generate.names import (
    fscc_type_id,
    fsch_type_id,
    ld_inst,
    numbered,
    one_to,
    start_time,
    value_slot,
)
from relevent.scl.generate.xml import SCL_NS, desc_attr, el

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from lxml import etree

    from relevent.scl.generate.options import GeneratorOptions


def _doi(ln: etree._Element, name: str, values: Mapping[tuple[str, ...], str]) -> None:
    """Add a DOI with initial values given by attribute path, e.g. {("setMag", "f"): "0"}."""
    doi = el(ln, "DOI", name=name)
    for path, value in values.items():
        parent = doi
        for sdi_name in path[:-1]:
            existing = parent.find(f"{{{SCL_NS}}}SDI[@name='{sdi_name}']")
            parent = existing if existing is not None else el(parent, "SDI", name=sdi_name)
        el(el(parent, "DAI", name=path[-1]), "Val", value)


def _ln(ld: etree._Element, name: tuple[str, str, str], ln_type: str, desc: str = "") -> etree._Element:
    """Add an LN named by (prefix, lnClass, inst)."""
    prefix, ln_class, inst = name
    return el(ld, "LN", prefix=prefix, lnClass=ln_class, inst=inst, lnType=ln_type, **desc_attr(desc))


def _schedule_inst(index: int) -> str:
    return f"{index:02d}"


def _schedule_refs(fn: Function, ld: str, options: GeneratorOptions) -> Iterator[str]:
    """Yield the controller's `SchdNN` references: the ordinary schedules, then the reserve."""
    for i in one_to(options.schedules):
        yield f"@{ld}/{fn.prefix}FSCH{_schedule_inst(i)}"
    yield f"@{ld}/{fn.reserve_prefix}FSCH{_schedule_inst(1)}"


def _write_controller(ld: etree._Element, ld_name: str, fn: Function, options: GeneratorOptions) -> None:
    ln_type = fscc_type_id(fn.value, options)
    ln = _ln(ld, (fn.prefix, "FSCC", "1"), ln_type, f"Schedule controller ({fn.desc})")
    _doi(ln, "CtlEnt", {("setSrcRef",): f"@{ld_name}/{fn.prefix}GGIO1.{fn.output.do_name}"})
    count = options.schedules + 1
    for i, ref in enumerate(_schedule_refs(fn, ld_name, options), start=1):
        _doi(ln, numbered("Schd", i, count, 2), {("setSrcRef",): ref})


def _write_schedules(ld: etree._Element, fn: Function, options: GeneratorOptions) -> None:
    ln_type = fsch_type_id(fn.value, options, periodic=False)
    for i in one_to(options.schedules):
        ln = _ln(ld, (fn.prefix, "FSCH", _schedule_inst(i)), ln_type, f"Schedule ({fn.desc})")
        _doi(ln, "NumEntr", {("setVal",): str(options.entries)})
    reserve = _ln(
        ld,
        (fn.reserve_prefix, "FSCH", _schedule_inst(1)),
        fsch_type_id(fn.value, options, periodic=True),
        f"Reserve schedule ({fn.desc})",
    )
    _doi(reserve, "NumEntr", {("setVal",): "1"})
    _doi(reserve, "SchdIntv", {("setVal",): str(RESERVE_INTERVAL_S)})
    _doi(reserve, "SchdPrio", {("setVal",): "0"})
    _doi(reserve, value_slot(fn.value, 1, options.entries), {fn.value.slot_path: fn.reserve_value})
    _doi(reserve, "SchdReuse", {("setVal",): "true"})
    _doi(
        reserve,
        start_time(1, options.start_times),
        {
            ("setTm",): RESERVE_START,
            ("setCal", "occType"): OccurrenceKind.TIME.literal,
            ("setCal", "occPer"): Period.HOUR.literal,
            ("setCal", "mn"): "0",
        },
    )


def _write_device(server: etree._Element, device: int, options: GeneratorOptions) -> None:
    """Write one LD: the common LNs, then per function its output, controller and schedules."""
    name = ld_inst(device)
    ld = el(server, "LDevice", inst=name, desc=f"DER controller, device {device}")
    lln0 = el(ld, "LN0", lnClass="LLN0", inst="", lnType="DERScheduler.LLN0")
    _doi(
        lln0,
        "NamPlt",
        {
            ("vendor",): "relevent-gw",
            ("swRev",): "1",
            ("d",): "DER scheduler (IEC 61850-90-10)",
            ("configRev",): "1",
        },
    )
    _doi(lln0, "Health", {("stVal",): "Ok"})
    lphd = _ln(ld, ("", "LPHD", "1"), "DERScheduler_LPHD")
    _doi(lphd, "PhyNam", {("vendor",): "relevent-gw"})
    _doi(lphd, "Proxy", {("stVal",): "false"})
    _ln(ld, ("", "MMXU", "1"), "DERScheduler_MMXU", "Measurements of the device")
    functions = [FUNCTIONS[fn] for fn in options.functions]
    for fn in functions:
        _ln(ld, (fn.prefix, "GGIO", "1"), fn.output.ggio_type, f"Generic IO ({fn.desc})")
    for fn in functions:
        _write_controller(ld, name, fn, options)
    for fn in functions:
        _write_schedules(ld, fn, options)


def write_header_and_communication(root: etree._Element, options: GeneratorOptions) -> None:
    """Write the Header and the Communication section (the IED's MMS access point)."""
    el(root, "Header", id="relevent-gw default model", version="1", revision="1", toolID="relevent-gw")
    subnet = el(el(root, "Communication"), "SubNetwork", name="SubNetworkName", type="8-MMS")
    address = el(el(subnet, "ConnectedAP", iedName=options.ied, apName="AccessPoint1"), "Address")
    # The usual MMS defaults; IP 0.0.0.0 means "listen on all interfaces" for libiec61850.
    for p_type, value in (
        ("OSI-AP-Title", "1,1,9999,1"),
        ("OSI-AE-Qualifier", "12"),
        ("OSI-PSEL", "00000001"),
        ("OSI-SSEL", "0001"),
        ("OSI-TSEL", "0001"),
        ("IP", "0.0.0.0"),  # noqa: S104 - a configuration value, not a bind call
        ("IP-SUBNET", "255.255.255.0"),
    ):
        el(address, "P", value, type=p_type)


def write_ied(root: etree._Element, options: GeneratorOptions) -> None:
    """Write the IED: its services, then one LD per device."""
    ied = el(
        root,
        "IED",
        name=options.ied,
        type="DER_Scheduler",
        manufacturer="relevent-gw",
        configVersion="1",
        originalSclVersion="2007",
        originalSclRevision="B",
    )
    services = el(ied, "Services", nameLength="64")
    el(services, "DynAssociation", max="5")
    for service in ("GetDirectory", "GetDataObjectDefinition", "GetDataSetValue", "DataSetDirectory"):
        el(services, service)
    el(services, "ConfDataSet", max="10")
    el(services, "ReadWrite")
    el(services, "ConfReportControl", max="30")
    el(services, "GetCBValues")
    el(services, "ReportSettings", rptID="Dyn", optFields="Dyn", trgOps="Dyn", intgPd="Dyn")
    el(services, "ConfLNs", fixPrefix="true", fixLnInst="true")
    server = el(el(ied, "AccessPoint", name="AccessPoint1"), "Server", desc="Server", timeout="30")
    el(server, "Authentication", none="true")
    for device in one_to(options.devices):
        _write_device(server, device, options)
