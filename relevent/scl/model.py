"""The typed, immutable description of an SCL file.

Types (DataTypeTemplates) are resolved once and shared by reference: a logical node holds its `LNodeType`
and only the initial values its own `DOI/SDI/DAI` elements override, so memory grows with the file, not with
the number of instantiated attributes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntFlag

from relevent.errors import SclError

Value = bool | int | float | str | datetime
"""An initial value: BOOLEAN -> bool, INT*/Enum ord -> int, FLOAT* -> float, Timestamp -> aware UTC datetime,
strings and object references -> str."""


class TrgOps(IntFlag):
    """Trigger options of a data attribute (bit values as in libiec61850)."""

    NONE = 0
    DCHG = 1
    QCHG = 2
    DUPD = 4


@dataclass(frozen=True, slots=True)
class EnumType:
    """An `EnumType`: literal names by ordinal and ordinals by name."""

    id: str
    names: Mapping[int, str]
    ords: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class AttributeType:
    """A `DA` of a DOType or a `BDA` of a DAType (then `fc` is "" and inherited from the parent DA)."""

    name: str
    btype: str
    fc: str
    trg_ops: TrgOps = TrgOps.NONE
    count: int = 0
    struct: DAType | None = None
    enum: EnumType | None = None
    default: Value | None = None


@dataclass(frozen=True, slots=True)
class DAType:
    """A `DAType`: the components of a constructed attribute."""

    id: str
    attributes: tuple[AttributeType, ...]


@dataclass(frozen=True, slots=True)
class DataObjectType:
    """A `DO` of an LNodeType or an `SDO` of a DOType."""

    name: str
    type: DOType
    count: int = 0


@dataclass(frozen=True, slots=True)
class DOType:
    """A `DOType`: its CDC and its children (attributes and sub data objects) in document order."""

    id: str
    cdc: str
    children: tuple[AttributeType | DataObjectType, ...]
    _by_name: dict[str, AttributeType | DataObjectType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in reversed(self.children)})  # first wins

    def child(self, name: str) -> AttributeType | DataObjectType | None:
        """Return the child attribute or sub data object called `name`."""
        return self._by_name.get(name)


@dataclass(frozen=True, slots=True)
class LNodeType:
    """An `LNodeType`: the data objects of a logical node class."""

    id: str
    ln_class: str
    data_objects: tuple[DataObjectType, ...]
    _by_name: dict[str, DataObjectType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {d.name: d for d in reversed(self.data_objects)})  # first wins

    def data_object(self, name: str) -> DataObjectType | None:
        """Return the data object called `name`."""
        return self._by_name.get(name)


@dataclass(frozen=True, slots=True)
class FCDA:
    """A member of a DataSet: a functionally constrained data (attribute) reference."""

    ld_inst: str
    prefix: str
    ln_class: str
    ln_inst: str
    do_name: str
    da_name: str
    fc: str

    @property
    def ln_name(self) -> str:
        """The logical node name, e.g. `ActPow_FSCC1`."""
        return f"{self.prefix}{self.ln_class}{self.ln_inst}"


@dataclass(frozen=True, slots=True)
class DataSet:
    """A `DataSet` of a logical node."""

    name: str
    members: tuple[FCDA, ...]


@dataclass(frozen=True, slots=True)
class ReportControl:
    """A `ReportControl` block (buffered or unbuffered)."""

    name: str
    dataset: str
    rpt_id: str
    buffered: bool
    conf_rev: int
    buf_time_ms: int
    intg_pd_ms: int
    trg_ops: frozenset[str]
    opt_fields: frozenset[str]
    max_clients: int


@dataclass(frozen=True, slots=True)
class LogicalNode:
    """An instantiated LN (or LN0): its type plus the initial values its DOI/DAI elements set."""

    prefix: str
    ln_class: str
    inst: str
    type: LNodeType
    values: Mapping[str, Value] = field(default_factory=dict)
    datasets: tuple[DataSet, ...] = ()
    report_controls: tuple[ReportControl, ...] = ()
    desc: str = ""
    line: int = 0

    @property
    def name(self) -> str:
        """The LN name as in object references, e.g. `ActPow_FSCH01` or `LLN0`."""
        return f"{self.prefix}{self.ln_class}{self.inst}"

    def initial(self, path: str) -> Value | None:
        """The initial value of the attribute at `path` (`DO.DA[.BDA]`): its DAI, else its type's `Val`."""
        if path in self.values:
            return self.values[path]
        found = attribute_at(self.type, path)
        return found[1].default if found is not None else None


@dataclass(frozen=True, slots=True)
class LogicalDevice:
    """An `LDevice`; `name` is the MMS domain name (IED name + inst, or `ldName`)."""

    inst: str
    name: str
    lns: tuple[LogicalNode, ...]
    desc: str = ""

    def ln(self, name: str) -> LogicalNode | None:
        """Return the logical node called `name` (e.g. `ActPow_FSCC1`)."""
        return next((n for n in self.lns if n.name == name), None)


@dataclass(frozen=True, slots=True)
class IED:
    """An `IED` with the logical devices of all its access points' servers."""

    name: str
    ldevices: tuple[LogicalDevice, ...]


@dataclass(frozen=True, slots=True)
class SclDocument:
    """A parsed SCL file: its IEDs and its resolved DataTypeTemplates."""

    path: str
    ieds: tuple[IED, ...]
    ln_types: Mapping[str, LNodeType]
    do_types: Mapping[str, DOType]
    da_types: Mapping[str, DAType]
    enum_types: Mapping[str, EnumType]

    def ied(self, name: str | None = None) -> IED:
        """The IED called `name`, or the first one (the model a gateway serves); `SclError` when none is."""
        found = next((ied for ied in self.ieds if name in (None, ied.name)), None)
        if found is None:
            raise SclError(f"no IED named {name!r}" if name else "the SCL file has no IED", path=self.path)
        return found

    def logical_nodes(self) -> Iterator[tuple[IED, LogicalDevice, LogicalNode]]:
        """Every instantiated logical node with its IED and logical device."""
        for ied in self.ieds:
            for ld in ied.ldevices:
                for ln in ld.lns:
                    yield ied, ld, ln


def attribute_at(ln_type: LNodeType, path: str) -> tuple[str, AttributeType] | None:
    """The FC and the type of the attribute at `path` (`DO[.SDO].DA[.BDA]`), or None if it is none."""
    node: AttributeType | DataObjectType | None = None
    fc = ""
    for part in path.split("."):
        if node is None:
            node = ln_type.data_object(part)
        elif isinstance(node, DataObjectType):
            node = node.type.child(part)
            fc = node.fc if isinstance(node, AttributeType) else fc
        elif node.struct is not None:
            node = next((a for a in node.struct.attributes if a.name == part), None)
        else:
            return None
        if node is None:
            return None
    return (fc, node) if isinstance(node, AttributeType) else None


def iter_attributes(
    ln_type: LNodeType,
) -> Iterator[tuple[str, str, AttributeType]]:
    """Every leaf and constructed attribute of an LN type as (path, fc, attribute), depth first."""
    for do in ln_type.data_objects:
        yield from _iter_do(do.name, do.type)


def _iter_do(prefix: str, do_type: DOType) -> Iterator[tuple[str, str, AttributeType]]:
    for child in do_type.children:
        path = f"{prefix}.{child.name}"
        if isinstance(child, DataObjectType):
            yield from _iter_do(path, child.type)
        else:
            yield from _iter_da(path, child.fc, child)


def _iter_da(path: str, fc: str, attr: AttributeType) -> Iterator[tuple[str, str, AttributeType]]:
    yield path, fc, attr
    if attr.struct is not None:
        for bda in attr.struct.attributes:
            yield from _iter_da(f"{path}.{bda.name}", fc, bda)
