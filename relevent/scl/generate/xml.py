"""Writing SCL elements: the namespace, and elements whose attributes keep their order."""

from __future__ import annotations

from typing import Final

from lxml import etree

SCL_NS: Final = "http://www.iec.ch/61850/2003/SCL"


def el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """Append an SCL element; attributes keep the given order so the output is reproducible."""
    element = etree.SubElement(parent, f"{{{SCL_NS}}}{tag}", attrs)
    element.text = text
    return element


def desc_attr(text: str) -> dict[str, str]:
    """The `desc` attribute, when there is one."""
    return {"desc": text} if text else {}
