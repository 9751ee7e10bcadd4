"""The SCL parser on the reference models and on broken inputs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from relevent.errors import SclError
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.model import AttributeType, SclDocument, iter_attributes
from relevent.scl.parse import SCL_NS, load, loads
from tests.conftest import SHIPPED, ReferenceDir

FUNCTIONS = ("ActPow_", "MaxPow_", "OnOff_")


def _fsch(doc: SclDocument) -> list[str]:
    return [ln.name for _, _, ln in doc.logical_nodes() if ln.ln_class == "FSCH"]


@pytest.mark.parametrize("name", ["der_scheduler", "relevent_scheduling", SHIPPED])
def test_full_reference_models_have_33_schedules_and_3_controllers(
    name: str, reference_dir: ReferenceDir
) -> None:
    doc = load(reference_dir.model(name))
    assert [ied.name for ied in doc.ieds] == ["DER_Scheduler_"]
    assert [ld.name for ld in doc.ieds[0].ldevices] == ["DER_Scheduler_Control"]
    fsch = _fsch(doc)
    assert len(fsch) == 33
    expected = {f"{f}FSCH{i:02d}" for f in FUNCTIONS for i in range(1, 11)}
    expected |= {f"{f}Res_FSCH01" for f in FUNCTIONS}
    assert set(fsch) == expected
    fscc = [ln.name for _, _, ln in doc.logical_nodes() if ln.ln_class == "FSCC"]
    assert sorted(fscc) == sorted(f"{f}FSCC1" for f in FUNCTIONS)


def test_reference_schedule_has_100_value_slots_and_16_start_times() -> None:
    ld = load(DEFAULT_MODEL).ieds[0].ldevices[0]
    cases = (("ActPow_FSCH01", "ValASG"), ("OnOff_FSCH07", "ValSPG"), ("MaxPow_Res_FSCH01", "ValASG"))
    for name, kind in cases:
        ln = ld.ln(name)
        assert ln is not None
        dos = [do.name for do in ln.type.data_objects]
        assert sum(d.startswith(kind) for d in dos) == 100, name
        assert sum(d.startswith("StrTm") for d in dos) == 16, name
    assert ld.ln("ActPow_FSCH01") is not None
    assert ld.ln("ActPow_FSCH01").initial("NumEntr.setVal") == 100  # type: ignore[union-attr]


def test_controller_references_and_reserve_values_of_der_scheduler(reference_dir: ReferenceDir) -> None:
    ld = load(reference_dir.model("der_scheduler")).ieds[0].ldevices[0]
    fscc = ld.ln("ActPow_FSCC1")
    assert fscc is not None
    assert fscc.initial("CtlEnt.setSrcRef") == "@Control/ActPow_GGIO1.AnOut1.mxVal.f"
    assert fscc.initial("Schd01.setSrcRef") == "@Control/ActPow_FSCH01"
    assert fscc.initial("Schd11.setSrcRef") == "@Control/ActPow_Res_FSCH01"
    reserve = ld.ln("ActPow_Res_FSCH01")
    assert reserve is not None
    assert reserve.initial("ValASG001.setMag.f") == 0.0
    assert reserve.initial("SchdIntv.setVal") == 3600
    assert reserve.initial("SchdReuse.setVal") is True
    assert reserve.initial("StrTm01.setTm") == datetime(2020, 1, 1, tzinfo=UTC)
    assert reserve.initial("StrTm01.setCal.occPer") == 0  # enum by name: Hour


def test_newest_relevent_model_uses_do_level_ctlent_and_its_reserve_values(
    reference_dir: ReferenceDir
) -> None:
    ld = load(reference_dir.model("relevent_scheduling")).ieds[0].ldevices[0]
    assert ld.ln("ActPow_FSCC1").initial("CtlEnt.setSrcRef") == "@Control/ActPow_GGIO1.AnOut1"  # type: ignore[union-attr]
    assert ld.ln("MaxPow_Res_FSCH01").initial("ValASG001.setMag.f") == 2200.0  # type: ignore[union-attr]
    stamp = ld.ln("ActPow_Res_FSCH01").initial("StrTm01.setTm")  # type: ignore[union-attr]
    assert stamp == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_minimal_model_has_one_controller_with_two_schedules_and_a_reserve(
    reference_dir: ReferenceDir
) -> None:
    doc = load(reference_dir.model("relevent_minimal"))
    assert len(_fsch(doc)) == 3
    assert [ln.name for _, _, ln in doc.logical_nodes() if ln.ln_class == "FSCC"] == ["MaxPow_FSCC1"]


def test_type_defaults_enums_and_functional_constraints() -> None:
    ln = load(DEFAULT_MODEL).ieds[0].ldevices[0].ln("ActPow_FSCH01")
    assert ln is not None
    assert ln.initial("SchdEnaErr.stVal") == 1  # DOType Val "None" -> ord 1
    attrs = {path: (fc, attr) for path, fc, attr in iter_attributes(ln.type)}
    assert attrs["EnaReq.ctlModel"][0] == "CF"
    assert attrs["EnaReq.ctlModel"][1].default == 1  # direct-with-normal-security
    assert attrs["EnaReq.Oper.ctlVal"][0] == "CO"
    assert attrs["ValASG042.setMag.f"][0] == "SP"
    assert "StrTm03.setCal.occPer" not in attrs  # non-periodic schedules have setTm only
    assert attrs["ValMV.mag.f"][0] == "MX"
    reserve = load(DEFAULT_MODEL).ieds[0].ldevices[0].ln("ActPow_Res_FSCH01")
    assert reserve is not None
    periodic = {path: attr for path, _, attr in iter_attributes(reserve.type)}
    assert periodic["StrTm03.setCal.occPer"].enum is not None
    assert periodic["StrTm03.setCal.occPer"].enum.names[2] == "Week"


def test_types_are_shared_between_instances_not_copied() -> None:
    ld = load(DEFAULT_MODEL).ieds[0].ldevices[0]
    a, b = ld.ln("ActPow_FSCH01"), ld.ln("MaxPow_FSCH09")
    assert a is not None
    assert b is not None
    assert a.type is b.type
    assert len(b.values) == 1  # only its own DAI override is stored per instance


def _replicated(devices: int) -> bytes:
    """The shipped model with its LDevice copied `devices` times (Control, Control2, ...)."""
    root = etree.parse(str(DEFAULT_MODEL)).getroot()
    server = root.find(f".//{{{SCL_NS}}}Server")
    assert server is not None
    template = server.find(f"{{{SCL_NS}}}LDevice")
    assert template is not None
    for n in range(2, devices + 1):
        copy = etree.fromstring(etree.tostring(template))
        copy.set("inst", f"Control{n}")
        server.append(copy)
    return bytes(etree.tostring(root))


def test_fifty_device_site_parses_well_under_a_second() -> None:
    data = _replicated(50)
    started = time.perf_counter()
    doc = loads(data, "fifty.cid")
    elapsed = time.perf_counter() - started
    assert len(doc.ieds[0].ldevices) == 50
    assert len(_fsch(doc)) == 50 * 33
    assert elapsed < 1.0, f"50-device parse took {elapsed:.3f} s"


# -- broken inputs -------------------------------------------------------------------------------------

_HEAD = f'<?xml version="1.0"?>\n<SCL xmlns="{SCL_NS}" version="2007" revision="B">\n'
_TEMPLATES = """<DataTypeTemplates>
<LNodeType id="T_LN" lnClass="GGIO"><DO name="Beh" type="T_ENS"/><DO name="Cnt" type="T_INS"/></LNodeType>
<DOType id="T_ENS" cdc="ENS"><DA name="stVal" bType="Enum" type="T_Beh" fc="ST"/></DOType>
<DOType id="T_INS" cdc="INS"><DA name="stVal" bType="INT8" fc="ST"/></DOType>
<EnumType id="T_Beh"><EnumVal ord="1">on</EnumVal><EnumVal ord="5">off</EnumVal></EnumType>
</DataTypeTemplates>"""


def _doc(ln: str, templates: str = _TEMPLATES) -> bytes:
    return (
        f'{_HEAD}<IED name="X"><AccessPoint name="AP"><Server><LDevice inst="LD">\n{ln}\n'
        f"</LDevice></Server></AccessPoint></IED>\n{templates}\n</SCL>\n"
    ).encode()


def test_minimal_valid_document_parses_with_enum_value_by_name() -> None:
    doc = loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"><DOI name="Beh"><DAI name="stVal">'
                     "<Val>off</Val></DAI></DOI></LN>"))
    ln = doc.ieds[0].ldevices[0].lns[0]
    assert ln.name == "GGIO1"
    assert ln.initial("Beh.stVal") == 5
    assert doc.ieds[0].ldevices[0].name == "XLD"


@pytest.mark.parametrize(
    ("ln", "templates", "line", "fragment"),
    [
        ('<LN lnClass="GGIO" inst="1" lnType="NOPE"/>', _TEMPLATES, 4, "LNodeType 'NOPE' is not defined"),
        (('<LN lnClass="GGIO" inst="1" lnType="T_LN"><DOI name="Beh"><DAI name="stVal"><Val>dim</Val>'
          "</DAI></DOI></LN>"), _TEMPLATES, 4, "unknown value 'dim' of EnumType T_Beh"),
        (('<LN lnClass="GGIO" inst="1" lnType="T_LN"><DOI name="Cnt"><DAI name="stVal"><Val>300</Val>'
          "</DAI></DOI></LN>"), _TEMPLATES, 4, "300 is out of range for INT8"),
        ('<LN lnClass="GGIO" inst="1" lnType="T_LN"><DOI name="Nope"/></LN>', _TEMPLATES, 4,
         "DOI 'Nope' is not a data object"),
        ('<LN lnClass="GGIO" inst="1" lnType="T_LN"><DOI name="Beh"><DAI name="xx"/></DOI></LN>',
         _TEMPLATES, 4, "Beh has no component 'xx'"),
        ('<LN lnClass="MMXU" inst="1" lnType="T_LN"/>', _TEMPLATES, 4, "is of class GGIO"),
        ('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>',
         _TEMPLATES.replace('bType="INT8" fc="ST"', 'bType="Struct" type="Gone" fc="ST"'), 9,
         "DAType 'Gone' is not defined"),
        ('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>',
         _TEMPLATES.replace('<DA name="stVal" bType="INT8" fc="ST"/>', '<SDO name="s" type="T_INS"/>'), 9,
         "DOType 'T_INS' contains itself"),
        ('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>',
         _TEMPLATES.replace('bType="INT8" fc="ST"', 'bType="INT8" fc="ST" count="99999999"'), 9,
         "array count 99999999 exceeds"),
    ],
)
def test_broken_models_name_file_line_and_reference(
    ln: str, templates: str, line: int, fragment: str
) -> None:
    with pytest.raises(SclError) as caught:
        loads(_doc(ln, templates), "broken.cid")
    assert fragment in str(caught.value)
    assert caught.value.path == "broken.cid"
    assert caught.value.line == line
    assert str(caught.value).startswith(f"broken.cid:{line}: ")


def test_truncated_xml_is_an_error_with_its_line() -> None:
    data = DEFAULT_MODEL.read_bytes()[:20_000]
    with pytest.raises(SclError, match="not well-formed XML") as caught:
        loads(data, "cut.cid")
    assert caught.value.line is not None
    assert caught.value.line > 1


def test_entity_expansion_and_doctype_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE SCL [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b']>' + f'<SCL xmlns="{SCL_NS}"><Header id="&b;"/></SCL>'.encode()
    )
    with pytest.raises(SclError, match="DOCTYPE"):
        loads(laughs)


def test_other_root_element_and_missing_file_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SclError, match="root element"):
        loads(b"<html/>")
    with pytest.raises(SclError, match="cannot read the file") as caught:
        load(tmp_path / "missing.cid")
    assert caught.value.path.endswith("missing.cid")


def test_value_types_parse_and_reject() -> None:
    templates = _TEMPLATES.replace(
        '<DOType id="T_INS" cdc="INS"><DA name="stVal" bType="INT8" fc="ST"/></DOType>',
        '<DOType id="T_INS" cdc="INS"><DA name="stVal" bType="INT8" fc="ST"/>'
        '<DA name="t" bType="Timestamp" fc="ST"><Val>2026-11-26T10:00:00.5Z</Val></DA>'
        '<DA name="b" bType="BOOLEAN" fc="ST"><Val>true</Val></DA>'
        '<DA name="s" bType="VisString32" fc="DC"><Val>x</Val></DA></DOType>',
    )
    ln = loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>', templates)).ieds[0].ldevices[0].lns[0]
    assert ln.initial("Cnt.t") == datetime(2026, 11, 26, 10, 0, 0, 500_000, tzinfo=UTC)
    assert ln.initial("Cnt.b") is True
    assert ln.initial("Cnt.s") == "x"
    assert ln.initial("Cnt.nope") is None
    too_long = templates.replace("<Val>x</Val>", f"<Val>{'x' * 33}</Val>")
    with pytest.raises(SclError, match="at most 32 characters"):
        loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>', too_long))
    unrepresentable = templates.replace("2026-11-26T10:00:00.5Z", "2106-02-07T06:28:16Z")  # past UtcTime
    with pytest.raises(SclError, match="outside the representable range"):
        loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>', unrepresentable))


def test_attribute_type_is_hashable_value_object() -> None:
    attr = AttributeType(name="f", btype="FLOAT32", fc="MX")
    assert attr == AttributeType(name="f", btype="FLOAT32", fc="MX")


# -- what the MMS server can serve (issue 16, item 9) ------------------------------------------------------

_NESTED = _TEMPLATES.replace('<DO name="Cnt" type="T_INS"/>', '<DO name="Cnt" type="T_INS" count="10000"/>')
_NESTED = _NESTED.replace('bType="INT8" fc="ST"/>', 'bType="INT8" fc="ST" count="10000"/>')


def test_nested_arrays_beyond_the_attribute_limit_are_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(SclError, match=r"more than 2000000 attributes \(at XLD/GGIO1\)") as caught:
        loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>', _NESTED), "nested.cid")
    assert time.perf_counter() - started < 0.1
    assert caught.value.line == 3  # the LDevice


def test_shared_types_are_sized_once_not_walked_per_use() -> None:
    """Twelve levels of DATypes that each hold two of the next: 4096 leaves per DO, counted in no time."""
    levels = "".join(
        f'<DAType id="L{n}"><BDA name="a" bType="Struct" type="L{n + 1}"/><BDA name="b" bType="Struct" '
        f'type="L{n + 1}"/></DAType>'
        for n in range(12)
    ) + '<DAType id="L12"><BDA name="v" bType="INT8"/></DAType>'
    templates = _TEMPLATES.replace('bType="INT8" fc="ST"', 'bType="Struct" type="L0" fc="ST"').replace(
        "</DataTypeTemplates>", f"{levels}</DataTypeTemplates>"
    )
    lns = "".join(f'<LN lnClass="GGIO" inst="{n}" lnType="T_LN"/>' for n in range(1, 300))
    started = time.perf_counter()
    with pytest.raises(SclError, match="more than 2000000 attributes"):
        loads(_doc(lns, templates))
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("ied", "ld", "fragment"),
    [
        ("I" * 150, "LD", f"IED name {'I' * 24}... is 150 characters, more than the 64 MMS allows"),
        ("I" * 63, "LD", f"logical device name {'I' * 24}... is 65 characters"),
        ("X", "L" * 64, "logical device name XLLLL"),
    ],
)
def test_names_mms_cannot_serve_are_refused(ied: str, ld: str, fragment: str) -> None:
    doc = _doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>').replace(b'name="X"', f'name="{ied}"'.encode())
    with pytest.raises(SclError, match=fragment.replace(".", r"\.")):
        loads(doc.replace(b'inst="LD"', f'inst="{ld}"'.encode()))


def test_object_references_longer_than_mms_serves_are_refused() -> None:
    long_da = _TEMPLATES.replace('name="stVal" bType="INT8"', f'name="{"v" * 120}" bType="INT8"')
    with pytest.raises(SclError, match="XLD/GGIO1 has object references of 134 characters, more than 128"):
        loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>', long_da))
    assert loads(_doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>', long_da.replace("v" * 120, "v" * 114)))


def test_the_longest_names_mms_serves_pass() -> None:
    doc = _doc('<LN lnClass="GGIO" inst="1" lnType="T_LN"/>').replace(b'"X"', f'"{"I" * 62}"'.encode())
    assert loads(doc).ieds[0].ldevices[0].name == "I" * 62 + "LD"
