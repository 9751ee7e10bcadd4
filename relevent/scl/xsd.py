"""Validate SCL files against the IEC 61850-6 XML schema.

The schema is IEC-licensed and never shipped: callers pass the folder that holds `SCL.xsd` (for example
SCL2007B4 from the IEC website). A compiled schema is cached per folder.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from lxml import etree

from relevent.errors import SclError

if TYPE_CHECKING:
    from collections.abc import Iterable

SCHEMA_FILE = "SCL.xsd"


class _LogEntry(Protocol):
    """The part of lxml's `_LogEntry` used here (lxml-stubs declares the error log without members)."""

    line: int
    message: str


def safe_parser() -> etree.XMLParser:
    """Return a parser that neither expands entities nor touches the network (untrusted SCL files)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def load_schema(xsd_dir: str | Path) -> etree.XMLSchema:
    """Return the compiled `SCL.xsd` of `xsd_dir`; raise `SclError` naming the file when it is unusable."""
    path = Path(xsd_dir) / SCHEMA_FILE
    try:
        return _compiled_schema(Path(xsd_dir).resolve())
    except OSError as exc:
        reason = f"no such file (--xsd names the folder holding {SCHEMA_FILE})" if not path.is_file() else exc
        raise SclError(f"cannot read the IEC 61850-6 schema: {reason}", path=str(path)) from None
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise SclError(f"not a usable IEC 61850-6 schema: {exc}", path=str(path)) from None


@functools.cache
def _compiled_schema(xsd_dir: Path) -> etree.XMLSchema:
    # Compiling re-reads the six schema files; a gateway or test run validates many files against one folder.
    return etree.XMLSchema(etree.parse(str(xsd_dir / SCHEMA_FILE), safe_parser()))


def validate_xsd(source: str | Path | etree._ElementTree, xsd_dir: str | Path) -> list[str]:
    """Validate an SCL file (path) or tree; return the errors as `FILE:LINE: message`, empty when valid.

    A file that is not well-formed yields its syntax error. A tree built (or extended) in memory lacks line
    numbers, so it is validated through its indented serialization (the form `write_scl` writes) and the
    lines refer to that.
    """
    schema = load_schema(xsd_dir)
    if isinstance(source, etree._ElementTree):  # noqa: SLF001 - lxml names its tree type so
        name = source.docinfo.URL or "<tree>"
        has_lines = all(element.sourceline is not None for element in source.iter())
        tree = source if has_lines else _reparsed(source)
    else:
        name = str(source)
        try:
            tree = etree.parse(str(source), safe_parser())
        except etree.XMLSyntaxError as error:
            return [f"{name}:{error.lineno}: {error.msg}"]
    if schema.validate(tree):
        return []
    entries = cast("Iterable[_LogEntry]", schema.error_log)
    return [f"{name}:{entry.line}: {entry.message}" for entry in entries]


def _reparsed(tree: etree._ElementTree) -> etree._ElementTree:
    text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return etree.ElementTree(etree.fromstring(text, safe_parser()))
