"""Writing the DataTypeTemplates section: the LNodeTypes, then only the types they reach, in table order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relevent.scl.generate.data_types import DA_TYPES, DO_TYPES, Attr, DATypeDef, DOTypeDef
from relevent.scl.generate.enum_types import ENUM_TYPES
from relevent.scl.generate.lnode_types import ln_types, reachable
from relevent.scl.generate.xml import desc_attr, el

if TYPE_CHECKING:
    from lxml import etree

    from relevent.scl.generate.options import GeneratorOptions


def _write_attr(parent: etree._Element, tag: str, attr: Attr) -> None:
    attrs = {"name": attr.name, "bType": attr.btype}
    if attr.type:
        attrs["type"] = attr.type
    attrs.update(dict.fromkeys(attr.trg, "true"))
    if attr.fc:
        attrs["fc"] = attr.fc
    if attr.val_kind:
        attrs["valKind"] = attr.val_kind
    element = el(parent, tag, **attrs)
    if attr.val is not None:
        el(element, "Val", attr.val)


def write_templates(root: etree._Element, options: GeneratorOptions) -> None:
    """Write the LNodeTypes, then the DOTypes, DATypes and EnumTypes they reach, in table order."""
    templates = el(root, "DataTypeTemplates")
    lnode_types = ln_types(options)
    used = reachable(lnode_types)
    for lnt in lnode_types:
        element = el(templates, "LNodeType", id=lnt.id, lnClass=lnt.ln_class)
        for name, do_type in lnt.dos:
            el(element, "DO", name=name, type=do_type)
    for type_id in filter(used.__contains__, DO_TYPES):
        _write_do_type(templates, type_id, DO_TYPES[type_id])
    for type_id in filter(used.__contains__, DA_TYPES):
        _write_da_type(templates, type_id, DA_TYPES[type_id])
    for type_id in filter(used.__contains__, ENUM_TYPES):
        element = el(templates, "EnumType", id=type_id)
        for ord_, literal in ENUM_TYPES[type_id]:
            el(element, "EnumVal", literal or None, ord=str(ord_))


def _write_do_type(templates: etree._Element, type_id: str, definition: DOTypeDef) -> None:
    element = el(templates, "DOType", id=type_id, cdc=definition.cdc, **desc_attr(definition.desc))
    for attr in definition.attrs:
        _write_attr(element, "DA", attr)


def _write_da_type(templates: etree._Element, type_id: str, definition: DATypeDef) -> None:
    element = el(templates, "DAType", id=type_id)
    for attr in definition.attrs:
        _write_attr(element, "BDA", attr)
    if definition.prot_ns:
        el(element, "ProtNs", "IEC 61850-8-1:2003", type="8-MMS")
