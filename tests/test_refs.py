"""The parts of an object reference: LD, owner LN, path, enclosing object, and the MMS spelling."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from relevent.refs import from_mms, full_ref, lineage, owner_of, split_last, split_ld, split_owner, without_ld

LEAF = "DER_Scheduler_Control/ActPow_FSCH01.StrTm01.setCal.occ"
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)


def test_the_ld_part_is_what_comes_before_the_slash() -> None:
    assert split_ld(LEAF) == ("DER_Scheduler_Control", "ActPow_FSCH01.StrTm01.setCal.occ")
    assert split_ld("@Control/ActPow_FSCH01") == ("@Control", "ActPow_FSCH01")
    assert split_ld("ActPow_FSCH01$ST$SchdSt") == ("", "ActPow_FSCH01$ST$SchdSt")
    assert without_ld("DER_Scheduler_Control/ActPow_FSCC1") == "ActPow_FSCC1"
    assert without_ld("none") == "none"
    assert without_ld("") == ""


def test_the_owner_is_the_logical_node_and_the_path_what_lies_below_it() -> None:
    assert split_owner(LEAF) == ("DER_Scheduler_Control/ActPow_FSCH01", "StrTm01.setCal.occ")
    assert split_owner("DER_Scheduler_Control/ActPow_FSCH01") == ("DER_Scheduler_Control/ActPow_FSCH01", "")
    assert owner_of("LD/ActPow_FSCH01.EnaReq") == "LD/ActPow_FSCH01"
    assert owner_of("LD/ActPow_FSCH01") == "LD/ActPow_FSCH01"


def test_the_last_name_is_split_from_its_enclosing_object() -> None:
    assert split_last(LEAF) == ("DER_Scheduler_Control/ActPow_FSCH01.StrTm01.setCal", "occ")
    assert split_last("LD/ActPow_FSCH01") == ("", "LD/ActPow_FSCH01")


def test_lineage_runs_from_the_owner_down_to_the_reference_itself() -> None:
    assert list(lineage("LD/LN.DO.DA")) == ["LD/LN", "LD/LN.DO", "LD/LN.DO.DA"]
    assert list(lineage("LD/LN")) == ["LD/LN"]


def test_an_mms_variable_reads_as_a_dotted_reference_without_its_fc() -> None:
    assert from_mms("ActPow_FSCC1$MX$ValMV$mag$f") == "ActPow_FSCC1.ValMV.mag.f"
    assert from_mms("LD/ActPow_FSCH01$ST$SchdSt$stVal") == "LD/ActPow_FSCH01.SchdSt.stVal"
    assert from_mms("LD/ActPow_FSCH01$ST") == "LD/ActPow_FSCH01"
    assert from_mms("LD/ActPow_FSCH01") == "LD/ActPow_FSCH01"


def test_the_short_form_gains_the_ied_name() -> None:
    assert full_ref(" @Control/ActPow_FSCH01 ", "DER_Scheduler_") == "DER_Scheduler_Control/ActPow_FSCH01"
    assert full_ref("X/Y", "DER_Scheduler_") == "X/Y"


@given(ld=names, ln=names, path=st.lists(names, max_size=4))
def test_the_parts_put_back_together_give_the_reference(ld: str, ln: str, path: list[str]) -> None:
    ref = ".".join([f"{ld}/{ln}", *path])
    owner, below = split_owner(ref)
    assert (owner, below) == (f"{ld}/{ln}", ".".join(path))
    assert split_ld(ref) == (ld, ref.removeprefix(f"{ld}/"))
    chain = list(lineage(ref))
    assert chain[0] == owner
    assert chain[-1] == ref
    assert len(chain) == len(path) + 1
    parent, name = split_last(ref)
    assert f"{parent}.{name}" == ref if path else (parent, name) == ("", ref)
    assert from_mms("$".join([f"{ld}/{ln}", "ST", *path])) == ref
