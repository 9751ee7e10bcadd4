"""XSD validation: reference models, broken files, line numbers, safe parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from relevent.errors import SclError
from relevent.scl.generate import DEFAULT_MODEL, SCL_NS, generate_scl, render_scl
from relevent.scl.xsd import load_schema, safe_parser, validate_xsd
from tests.conftest import REFERENCE_MODELS, ReferenceDir

NS = {"scl": SCL_NS}


@pytest.fixture
def default_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.cid"
    path.write_bytes(render_scl())
    return path


@pytest.mark.parametrize("model", sorted(REFERENCE_MODELS))
def test_reference_models_are_schema_valid(model: str, reference_dir: ReferenceDir) -> None:
    # lxml reports no error for any of them; the compas `Private` of the ReLevENT models is allowed by
    # tPrivate's lax `any` content.
    assert validate_xsd(reference_dir.model(model), reference_dir.xsd) == []


def test_missing_required_attribute_is_reported_with_its_line(
    default_file: Path, reference_dir: ReferenceDir
) -> None:
    tree = etree.parse(str(default_file), safe_parser())
    ln = tree.find(".//scl:LN[@lnClass='FSCH']", NS)
    assert ln is not None
    del ln.attrib["lnType"]
    # written with its whitespace, so every element keeps its line
    tree.write(str(default_file), xml_declaration=True, encoding="UTF-8")

    errors = validate_xsd(default_file, reference_dir.xsd)

    assert len(errors) == 1
    assert errors[0].startswith(f"{default_file}:{ln.sourceline}: ")
    assert "'lnType' is required but missing" in errors[0]


def test_unknown_element_is_reported_with_its_line(default_file: Path, reference_dir: ReferenceDir) -> None:
    lines = default_file.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if "<Authentication" in line)
    lines[index] += "<Bogus/>"
    default_file.write_text("\n".join(lines), encoding="utf-8")

    errors = validate_xsd(default_file, reference_dir.xsd)

    assert len(errors) == 1
    assert errors[0].startswith(f"{default_file}:{index + 1}: ")
    assert "Bogus" in errors[0]
    assert "not expected" in errors[0]


def test_malformed_file_yields_its_syntax_error(default_file: Path, reference_dir: ReferenceDir) -> None:
    lines = default_file.read_text(encoding="utf-8").splitlines()
    index = lines.index("  </Communication>")
    lines[index] = "  </Communicatio>"
    default_file.write_text("\n".join(lines), encoding="utf-8")

    errors = validate_xsd(default_file, reference_dir.xsd)

    assert len(errors) == 1
    assert errors[0].startswith(f"{default_file}:{index + 1}: Opening and ending tag mismatch")


def test_tree_built_in_memory_reports_lines_of_its_written_form(reference_dir: ReferenceDir) -> None:
    tree = generate_scl()
    ld = tree.find(".//scl:LDevice", NS)
    assert ld is not None
    del ld.attrib["inst"]

    errors = validate_xsd(tree, reference_dir.xsd)

    assert "'inst' is required" in errors[0]
    line = int(errors[0].split(":")[1])
    # the other error is the LDevice key that now lacks its field: same element, same line
    assert all(error.startswith(f"<tree>:{line}: ") for error in errors)
    written = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()
    assert written.splitlines()[line - 1].lstrip().startswith("<LDevice ")


def test_parsed_tree_keeps_its_own_lines_and_name(default_file: Path, reference_dir: ReferenceDir) -> None:
    tree = etree.parse(str(default_file), safe_parser())
    header = tree.find("scl:Header", NS)
    assert header is not None
    del header.attrib["id"]

    errors = validate_xsd(tree, reference_dir.xsd)

    assert len(errors) == 1
    assert errors[0].startswith(f"{default_file}:{header.sourceline}: ")
    assert "'id' is required" in errors[0]


def test_schema_is_compiled_once_per_folder(reference_dir: ReferenceDir) -> None:
    xsd = reference_dir.xsd
    assert load_schema(xsd) is load_schema(str(xsd / ".." / xsd.name))


def test_missing_schema_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(SclError, match=r"SCL\.xsd: cannot read the IEC 61850-6 schema: no such file"):
        validate_xsd(DEFAULT_MODEL, tmp_path)


def test_safe_parser_leaves_entities_unexpanded(tmp_path: Path) -> None:
    # lxml's default parser expands internal entities (the "billion laughs" vector); ours must not.
    doc = tmp_path / "entity.xml"
    doc.write_text('<!DOCTYPE r [<!ENTITY e "EXPANDED">]><r>&e;</r>')

    parsed = etree.parse(str(doc), safe_parser())

    assert b"EXPANDED" not in etree.tostring(parsed.getroot())
    assert b"EXPANDED" in etree.tostring(etree.parse(str(doc)).getroot())  # the default parser would
