"""The default-model generator: schema validity, the shipped file, and the reference model's names."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest
from lxml import etree

from relevent.scheduler.enums import SclEnum
from relevent.scheduler.periodic import OccurrenceKind, Period, Weekday
from relevent.scheduler.schedule import EnaErr, SchdSt
from relevent.scl.generate import (
    DEFAULT_MODEL,
    SCL_NS,
    GeneratorOptions,
    generate_scl,
    render_scl,
    write_scl,
)
from relevent.scl.parse import loads
from relevent.scl.xsd import safe_parser, validate_xsd
from tests.conftest import ReferenceDir

NS = {"scl": SCL_NS}


NEWEST_REFERENCE = "relevent_scheduling"


# --------------------------------------------------------------------------------------------------------
# helpers


def elements(node: etree._Element | etree._ElementTree, path: str) -> list[etree._Element]:
    found = node.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, etree._Element)]


def texts(node: etree._Element | etree._ElementTree, path: str) -> list[str]:
    found = node.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [str(t) for t in found]


def one(node: etree._Element | etree._ElementTree, path: str) -> etree._Element:
    found = elements(node, path)
    assert len(found) == 1, path
    return found[0]


def ln_name(ln: etree._Element) -> str:
    return f"{ln.get('prefix', '')}{ln.get('lnClass')}{ln.get('inst')}"


def lns(tree: etree._ElementTree, ln_class: str, ld: str = "Control") -> dict[str, etree._Element]:
    path = f"//scl:LDevice[@inst='{ld}']/*[self::scl:LN or self::scl:LN0][@lnClass='{ln_class}']"
    found = elements(tree, path)
    return {ln_name(ln): ln for ln in found}


def do_signature(tree: etree._ElementTree, ln: etree._Element) -> list[tuple[str, str]]:
    """(DO name, CDC) of every DO of the LN's type, in type order."""
    return [(name, cdc) for name, cdc, _ in data_objects(tree, ln)]


def data_objects(tree: etree._ElementTree, ln: etree._Element) -> list[tuple[str, str, tuple[str, ...]]]:
    """(DO name, CDC, DA names) of every DO of the LN's type, in type order."""
    lnode_type = one(tree, f"//scl:LNodeType[@id='{ln.get('lnType')}']")
    found = []
    for do in elements(lnode_type, "scl:DO"):
        do_type = one(tree, f"//scl:DOType[@id='{do.get('type')}']")
        found.append((str(do.get("name")), str(do_type.get("cdc")), tuple(texts(do_type, "scl:DA/@name"))))
    return found


def initial(ln: etree._Element, path: str) -> str:
    """The initial value at `DO.DA[.BDA]` of an LN instance."""
    do_name, *rest = path.split(".")
    steps = "/".join(f"*[@name='{name}']" for name in rest)
    values = texts(ln, f"scl:DOI[@name='{do_name}']/{steps}/scl:Val/text()")
    assert len(values) == 1, path
    return values[0]


@functools.cache
def reference(reference_dir: ReferenceDir, name: str = "der_scheduler") -> etree._ElementTree:
    return etree.parse(str(reference_dir.model(name)), safe_parser())


@functools.cache
def generated(options: GeneratorOptions = GeneratorOptions()) -> etree._ElementTree:  # noqa: B008
    return generate_scl(options)


# --------------------------------------------------------------------------------------------------------
# schema validity and the shipped file


@pytest.mark.parametrize(
    "options",
    [
        GeneratorOptions(),
        GeneratorOptions(devices=3),
        GeneratorOptions(functions=("MaxPow",)),
        GeneratorOptions(entries=10, start_times=4),
        GeneratorOptions(schedules=2),
        GeneratorOptions(ied="GW", functions=("OnOff", "ActPow"), entries=1000, start_times=1),
    ],
    ids=["default", "devices-3", "maxpow-only", "entries-10-start-times-4", "schedules-2", "mixed"],
)
def test_generated_models_are_schema_valid(options: GeneratorOptions, reference_dir: ReferenceDir) -> None:
    assert validate_xsd(generated(options), reference_dir.xsd) == []


def test_shipped_default_model_is_a_fresh_generation() -> None:
    # If this fails, regenerate with `make model` and commit relevent/data/der_scheduler.cid.
    assert DEFAULT_MODEL.read_bytes() == render_scl()


def test_write_scl_writes_the_rendered_document(tmp_path: Path, reference_dir: ReferenceDir) -> None:
    options = GeneratorOptions(schedules=1, entries=2)
    target = write_scl(options, tmp_path / "out.cid")
    assert target.read_bytes() == render_scl(options)
    assert validate_xsd(target, reference_dir.xsd) == []


def test_fifty_devices_generate_and_validate_in_bounded_time(reference_dir: ReferenceDir) -> None:
    started = time.perf_counter()
    tree = generate_scl(GeneratorOptions(devices=50))
    errors = validate_xsd(tree, reference_dir.xsd)
    elapsed = time.perf_counter() - started

    assert errors == []
    assert len(elements(tree, "//scl:LDevice")) == 50
    assert len(elements(tree, "//scl:LN[@lnClass='FSCH']")) == 50 * 33
    assert elapsed < 10  # ~0.1 s on a laptop; generous for slow CI runners


# --------------------------------------------------------------------------------------------------------
# same names and types as the reference model


def test_default_model_has_the_reference_logical_nodes(reference_dir: ReferenceDir) -> None:
    ours, ref = generated(), reference(reference_dir)
    for ln_class, count in (("FSCH", 33), ("FSCC", 3), ("GGIO", 3), ("LLN0", 1), ("LPHD", 1)):
        assert sorted(lns(ours, ln_class)) == sorted(lns(ref, ln_class))
        assert len(lns(ours, ln_class)) == count
    assert one(ours, "//scl:IED").get("name") == "DER_Scheduler_"


@pytest.mark.parametrize(
    ("ln_class", "ref_name"),
    [
        ("FSCH", "der_scheduler"),
        ("FSCC", "der_scheduler"),
        ("LLN0", "der_scheduler"),
        ("LPHD", "der_scheduler"),
        ("GGIO", NEWEST_REFERENCE),  # controllable outputs (with Oper) appeared in the newest model
    ],
)
def test_every_reference_logical_node_has_the_same_data_objects_and_attributes(
    ln_class: str, ref_name: str, reference_dir: ReferenceDir
) -> None:
    ours, ref = generated(), reference(reference_dir, ref_name)
    our_lns = lns(ours, ln_class)
    for name, ref_ln in lns(ref, ln_class).items():
        assert data_objects(ours, our_lns[name]) == data_objects(ref, ref_ln), name


def test_schedules_have_100_value_slots_and_16_start_times() -> None:
    tree = generated()
    schedules = lns(tree, "FSCH")
    cases = (("ActPow_FSCH01", "ValASG"), ("OnOff_FSCH10", "ValSPG"), ("OnOff_Res_FSCH01", "ValSPG"))
    for name, slot in cases:
        names = [do for do, _ in do_signature(tree, schedules[name])]
        assert [n for n in names if n.startswith(slot)] == [f"{slot}{i:03d}" for i in range(1, 101)]
        assert [n for n in names if n.startswith("StrTm")] == [f"StrTm{i:02d}" for i in range(1, 17)]


def test_type_ids_follow_the_reference(reference_dir: ReferenceDir) -> None:
    ours, ref = generated(), reference(reference_dir)
    for ln_class in ("FSCH", "FSCC"):
        ref_lns = lns(ref, ln_class)
        assert {name: ln.get("lnType") for name, ln in lns(ours, ln_class).items()} == {
            name: ln.get("lnType") for name, ln in ref_lns.items()
        }


def test_controllers_reference_their_schedules_and_the_reserve_last(reference_dir: ReferenceDir) -> None:
    ours, ref = generated(), reference(reference_dir)
    for name, ref_ln in lns(ref, "FSCC").items():
        schd = [f"Schd{i:02d}.setSrcRef" for i in range(1, 12)]
        our_ln = lns(ours, "FSCC")[name]
        assert [initial(our_ln, p) for p in schd] == [initial(ref_ln, p) for p in schd]
        assert initial(our_ln, "Schd11.setSrcRef").endswith("_Res_FSCH01")


def test_controlled_entity_is_the_output_data_object_as_in_the_newest_reference(
    reference_dir: ReferenceDir
) -> None:
    ours, newest = generated(), reference(reference_dir, NEWEST_REFERENCE)
    expected = {name: initial(ln, "CtlEnt.setSrcRef") for name, ln in lns(newest, "FSCC").items()}
    assert {name: initial(ln, "CtlEnt.setSrcRef") for name, ln in lns(ours, "FSCC").items()} == expected
    assert expected["ActPow_FSCC1"] == "@Control/ActPow_GGIO1.AnOut1"


def test_ordinary_schedules_start_with_all_entries(reference_dir: ReferenceDir) -> None:
    ref_lns = lns(reference(reference_dir), "FSCH")
    for name, ln in lns(generated(), "FSCH").items():
        if "_Res_" not in name:
            assert initial(ln, "NumEntr.setVal") == initial(ref_lns[name], "NumEntr.setVal") == "100"


@pytest.mark.parametrize("function", ["ActPow", "MaxPow", "OnOff"])
def test_reserve_schedule_is_hourly_lowest_priority_and_reused(
    function: str, reference_dir: ReferenceDir
) -> None:
    name = f"{function}_Res_FSCH01"
    ours, ref = lns(generated(), "FSCH")[name], lns(reference(reference_dir), "FSCH")[name]
    same = (
        "NumEntr.setVal",
        "SchdIntv.setVal",
        "SchdPrio.setVal",
        "SchdReuse.setVal",
        "StrTm01.setTm",
        "StrTm01.setCal.occType",
        "StrTm01.setCal.occPer",
    )
    assert {p: initial(ours, p) for p in same} == {p: initial(ref, p) for p in same}
    hourly_from_2020 = ["1", "3600", "0", "true", "2020-01-01T00:00:00Z", "Time", "Hour"]
    assert [initial(ours, p) for p in same] == hourly_from_2020
    assert initial(ours, "StrTm01.setCal.mn") == "0"


def test_reserve_values_zero_power_and_connected() -> None:
    reserves = lns(generated(), "FSCH")
    assert initial(reserves["ActPow_Res_FSCH01"], "ValASG001.setMag.f") == "0"
    assert initial(reserves["MaxPow_Res_FSCH01"], "ValASG001.setMag.f") == "0"
    # deliberately differs from the reference (false): without schedules, devices stay connected
    assert initial(reserves["OnOff_Res_FSCH01"], "ValSPG001.setVal") == "true"


def test_outputs_are_controllable_with_direct_control() -> None:
    tree = generated()
    ggios = lns(tree, "GGIO")
    assert dict(do_signature(tree, ggios["ActPow_GGIO1"]))["AnOut1"] == "APC"
    assert dict(do_signature(tree, ggios["MaxPow_GGIO1"]))["AnOut1"] == "APC"
    assert dict(do_signature(tree, ggios["OnOff_GGIO1"]))["SPCSO1"] == "SPC"
    for do_type in ("DERScheduler_APC_ActPow", "DERScheduler_SPC_direct"):
        ctl_model = one(tree, f"//scl:DOType[@id='{do_type}']/scl:DA[@name='ctlModel']/scl:Val")
        assert ctl_model.text == "direct-with-normal-security"
        assert elements(tree, f"//scl:DOType[@id='{do_type}']/scl:DA[@name='Oper'][@fc='CO']")


def test_every_device_measures_total_active_power_in_watts() -> None:
    tree = generated(GeneratorOptions(devices=2))
    for ld in ("Control", "Control2"):
        mmxu = lns(tree, "MMXU", ld)["MMXU1"]
        assert ("TotW", "MV") in do_signature(tree, mmxu)
    tot_w = one(tree, "//scl:LNodeType[@lnClass='MMXU']/scl:DO[@name='TotW']").get("type")
    assert texts(tree, f"//scl:DOType[@id='{tot_w}']/scl:DA/@name") == ["mag", "q", "t", "units"]
    units = one(tree, f"//scl:DOType[@id='{tot_w}']/scl:DA[@name='units']").get("type")
    assert texts(tree, f"//scl:DAType[@id='{units}']/scl:BDA[@name='SIUnit']/scl:Val/text()") == ["W"]
    assert texts(tree, f"//scl:DAType[@id='{units}']/scl:BDA[@name='multiplier']/scl:Val/text()") == []


def test_enumerations_match_the_reference(reference_dir: ReferenceDir) -> None:
    ours, ref = generated(), reference(reference_dir)
    for enum in texts(ref, "//scl:EnumType/@id"):
        ref_values = {
            e.get("ord"): e.text or "" for e in elements(ref, f"//scl:EnumType[@id='{enum}']/scl:EnumVal")
        }
        our_values = {
            e.get("ord"): e.text or "" for e in elements(ours, f"//scl:EnumType[@id='{enum}']/scl:EnumVal")
        }
        assert ref_values
        # ours may add the standard literals the reference omits (OriginatorCategoryKind, SIUnit h/min)
        assert ref_values.items() <= our_values.items(), enum


@pytest.mark.parametrize(
    ("enum", "kind"),
    [
        ("ScheduleStateKind", SchdSt),
        ("ScheduleEnablingErrorKind", EnaErr),
        ("OccurrenceKind", OccurrenceKind),
        ("PeriodKind", Period),
        ("WeekdayKind", Weekday),
    ],
)
def test_enumerations_the_scheduler_interprets_are_its_own_tables(enum: str, kind: type[SclEnum]) -> None:
    values = elements(generated(), f"//scl:EnumType[@id='{enum}']/scl:EnumVal")
    written = [(e.get("ord"), e.text) for e in values]
    assert written == [(str(int(member)), member.literal) for member in kind]


# --------------------------------------------------------------------------------------------------------
# options


def test_devices_get_their_own_logical_device_and_references() -> None:
    tree = generated(GeneratorOptions(devices=3))
    assert texts(tree, "//scl:LDevice/@inst") == ["Control", "Control2", "Control3"]
    for ld in ("Control", "Control2", "Control3"):
        refs = texts(tree, f"//scl:LDevice[@inst='{ld}']//scl:DAI[@name='setSrcRef']/scl:Val/text()")
        assert len(refs) == 3 * 12
        assert all(ref.startswith(f"@{ld}/") for ref in refs)
        assert len(lns(tree, "FSCH", ld)) == 33


def test_functions_option_picks_a_subset() -> None:
    tree = generated(GeneratorOptions(functions=("MaxPow",)))
    prefixes = set(texts(tree, "//scl:LN[@lnClass!='LPHD' and @lnClass!='MMXU']/@prefix"))
    assert prefixes == {"MaxPow_", "MaxPow_Res_"}
    assert not elements(tree, "//scl:LNodeType[scl:DO[starts-with(@name, 'ValSPG')]]")
    assert not elements(tree, "//scl:LNodeType[@id='DERScheduler_FSCC_SPC']")


def test_entries_and_start_times_set_slots_names_and_type_ids() -> None:
    tree = generated(GeneratorOptions(entries=10, start_times=4))
    ln = lns(tree, "FSCH")["ActPow_FSCH01"]
    assert ln.get("lnType") == "DERScheduler_FSCH_ASG_10_nonperiodic_4StrTm"
    names = [do for do, _ in do_signature(tree, ln)]
    assert [n for n in names if n.startswith("Val")] == ["ValMV"] + [f"ValASG{i:03d}" for i in range(1, 11)]
    assert [n for n in names if n.startswith("StrTm")] == ["StrTm01", "StrTm02", "StrTm03", "StrTm04"]
    assert initial(ln, "NumEntr.setVal") == "10"


def test_slot_names_widen_beyond_999_entries() -> None:
    tree = generated(GeneratorOptions(ied="GW", functions=("OnOff", "ActPow"), entries=1000, start_times=1))
    names = [do for do, _ in do_signature(tree, lns(tree, "FSCH")["OnOff_FSCH01"])]
    slots = [n for n in names if n.startswith("ValSPG")]
    assert slots[0] == "ValSPG0001"
    assert slots[-1] == "ValSPG1000"
    assert len(slots) == 1000


def test_schedules_option_sets_controller_references() -> None:
    tree = generated(GeneratorOptions(schedules=2))
    fscc = lns(tree, "FSCC")["OnOff_FSCC1"]
    assert fscc.get("lnType") == "DERScheduler_FSCC_SPC_3Schd"
    assert [initial(fscc, f"Schd{i:02d}.setSrcRef") for i in (1, 2, 3)] == [
        "@Control/OnOff_FSCH01",
        "@Control/OnOff_FSCH02",
        "@Control/OnOff_Res_FSCH01",
    ]
    refs = [do for do, _ in do_signature(tree, fscc) if do.startswith("Schd")]
    assert refs == ["Schd01", "Schd02", "Schd03"]
    assert sorted(lns(tree, "FSCH")) == sorted(
        f"{f}_{kind}" for f in ("ActPow", "MaxPow", "OnOff") for kind in ("FSCH01", "FSCH02", "Res_FSCH01")
    )


@pytest.mark.parametrize(
    "options",
    [GeneratorOptions(), GeneratorOptions(devices=2, functions=("OnOff",), entries=3, start_times=2)],
)
def test_generated_models_load_with_the_project_parser(options: GeneratorOptions) -> None:
    # The parser checks every initial value against its type, which the XSD does not.
    ld = loads(render_scl(options), "generated.cid").ieds[0].ldevices[-1]
    reserve = ld.ln("OnOff_Res_FSCH01")
    assert reserve is not None
    assert reserve.values["StrTm01.setCal.occPer"] == 0  # Hour
    assert reserve.values["ValSPG001.setVal"] is True


def test_only_the_types_in_use_are_written() -> None:
    tree = generated()
    used = set(texts(tree, "//@lnType | //scl:DO/@type | //scl:DA/@type | //scl:BDA/@type"))
    defined = set(texts(tree, "//scl:DataTypeTemplates/*/@id"))
    assert defined == used


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedules": 0}, "schedules must be in 1..99"),
        ({"entries": 10000}, "entries must be in 1..9999"),
        ({"start_times": 0}, "start_times must be in 1..99"),
        ({"devices": 0}, "devices must be in 1..999"),
        ({"functions": ()}, "functions must be distinct and not empty"),
        ({"functions": ("ActPow", "ActPow")}, "functions must be distinct and not empty"),
        ({"functions": ("ActPow", "ReactPow")}, r"unknown functions \['ReactPow'\]"),
        ({"ied": "1st"}, "invalid IED name"),
        ({"ied": "GW-1"}, "invalid IED name"),
        ({"ied": "G" * 57, "devices": 2}, "invalid IED name"),
    ],
)
def test_invalid_options_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratorOptions(**kwargs)  # type: ignore[arg-type]


def test_longest_ied_name_that_fits_the_mms_domain_is_accepted(reference_dir: ReferenceDir) -> None:
    options = GeneratorOptions(ied="G" * 56, devices=2)  # + "Control2" = 64 characters
    assert validate_xsd(generate_scl(options), reference_dir.xsd) == []
