"""What the MMS server can serve: name lengths and the number of instantiated attributes.

Checked when a file is parsed, so `check-config`, `scl validate` and `run` refuse the same files, and by
arithmetic over the shared types: a nested array of 10^4 x 10^4 is refused without instantiating anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from relevent.scl.model import AttributeType, DataObjectType, LNodeType, LogicalDevice

# libiec61850 looks a logical device up by its MMS domain name in a 64-character buffer (IEC 61850-7-2 Ed2:
# LDName, and SCL's tIEDName, are at most 64 characters): a longer name builds, but is never found.
MAX_DOMAIN_NAME = 64
# libiec61850 looks a node up by its object reference `LD/LN.DO.DA` in a 129-byte buffer.
MAX_OBJECT_REFERENCE = 128
# About 150 logical devices of the reference size (13,000 attributes, ~4.4 MiB resident each).
MAX_ATTRIBUTES = 2_000_000


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` (an IED or logical device name) cannot be an MMS domain, or None."""
    if len(name) <= MAX_DOMAIN_NAME:
        return None
    return f"{kind} name {name[:24]}... is {len(name)} characters, more than the {MAX_DOMAIN_NAME} MMS allows"


@dataclass(slots=True)
class ModelSize:
    """Counts the attributes a model instantiates; each type is sized once, as types are shared."""

    attributes: int = 0
    _sizes: dict[int, tuple[int, int]] = field(default_factory=dict)  # id(node) -> (nodes, longest path)

    def add(self, ld: LogicalDevice) -> str | None:
        """Count the logical nodes of `ld`; why the model cannot be served (then stop), or None."""
        for ln in ld.lns:
            nodes, longest = self._type(ln.type)
            self.attributes += nodes
            if self.attributes > MAX_ATTRIBUTES:
                return f"the model has more than {MAX_ATTRIBUTES} attributes (at {ld.name}/{ln.name})"
            reference = len(ld.name) + 1 + len(ln.name) + 1 + longest
            if reference > MAX_OBJECT_REFERENCE:
                return (f"{ld.name}/{ln.name} has object references of {reference} characters, more than "
                        f"{MAX_OBJECT_REFERENCE}, what MMS serves")  # fmt: skip
        return None

    def _type(self, ln_type: LNodeType) -> tuple[int, int]:
        sizes = [self._node(do) for do in ln_type.data_objects]
        return sum(n for n, _ in sizes), max((p for _, p in sizes), default=0)

    def _node(self, node: DataObjectType | AttributeType) -> tuple[int, int]:
        """(nodes, longest path) of a data object or attribute, its arrays multiplied out."""
        found = self._sizes.get(id(node))
        if found is not None:
            return found
        if isinstance(node, DataObjectType):
            children: tuple[DataObjectType | AttributeType, ...] = node.type.children
        else:
            children = node.struct.attributes if node.struct is not None else ()
        count, longest = 1, 0
        for child in children:
            n, p = self._node(child)
            count, longest = count + n, max(longest, p + 1)
        found = self._sizes[id(node)] = (count * max(node.count, 1), len(node.name) + longest)
        return found
