"""Parse an SCL 2007 file (.scd/.cid/.icd/.iid) into an immutable `SclDocument`.

Every error names the file, the line and the offending reference; a file either parses whole or not at all.
The XML parser refuses DTDs, entities and network access, so hostile files cannot expand or reach out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from lxml import etree

from relevent.errors import SclError
from relevent.scl.limits import ModelSize, name_problem
from relevent.scl.model import (
    FCDA,
    IED,
    AttributeType,
    DataObjectType,
    DataSet,
    DAType,
    DOType,
    EnumType,
    LNodeType,
    LogicalDevice,
    LogicalNode,
    ReportControl,
    SclDocument,
    TrgOps,
    Value,
)
from relevent.scl.val_text import parse_value

SCL_NS = "http://www.iec.ch/61850/2003/SCL"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ARRAY_COUNT = 10_000

_T = TypeVar("_T")


def _q(tag: str) -> str:
    return f"{{{SCL_NS}}}{tag}"


def load(path: str | Path) -> SclDocument:
    """Read and parse the SCL file at `path`; raise `SclError` when it cannot be used."""
    name = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise SclError(f"file is {size} bytes, more than the {MAX_FILE_BYTES} accepted", path=name)
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SclError(f"cannot read the file: {exc.strerror}", path=name) from exc
    return loads(data, path=name)


def loads(data: bytes, path: str = "<memory>") -> SclDocument:
    """Parse SCL from bytes; `path` names the source in error messages."""
    root = _parse_xml(data, path)
    return _DocumentParser(root, path).parse()


def _parse_xml(data: bytes, path: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        tree = etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as exc:
        raise SclError(f"not well-formed XML: {exc.msg}", path=path, line=exc.lineno) from exc
    if tree.docinfo.doctype:
        raise SclError("DOCTYPE declarations are not accepted in SCL files", path=path, line=1)
    root = tree.getroot()
    if root.tag != _q("SCL"):
        raise SclError(f"root element is {root.tag!r}, expected SCL in namespace {SCL_NS}", path=path, line=1)
    return root


class _DocumentParser:
    """One pass over the templates (resolved on demand, memoised, cycles refused), then the IEDs."""

    def __init__(self, root: etree._Element, path: str) -> None:
        self._root = root
        self._path = path
        templates = root.find(_q("DataTypeTemplates"))
        self._raw: dict[str, dict[str, etree._Element]] = {
            kind: self._index(templates, kind) for kind in ("EnumType", "DAType", "DOType", "LNodeType")
        }
        self._enums: dict[str, EnumType] = {}
        self._da_types: dict[str, DAType] = {}
        self._do_types: dict[str, DOType] = {}
        self._ln_types: dict[str, LNodeType] = {}
        self._resolving: set[str] = set()
        self._size = ModelSize()

    # -- errors and small helpers ---------------------------------------------------------------------

    def _error(self, message: str, el: etree._Element | None) -> SclError:
        return SclError(message, path=self._path, line=el.sourceline if el is not None else None)

    def _attr(self, el: etree._Element, name: str) -> str:
        value = el.get(name)
        if value is None:
            raise self._error(f"<{etree.QName(el).localname}> lacks the required attribute {name!r}", el)
        return value

    def _count(self, el: etree._Element) -> int:
        text = el.get("count", "0")
        if not text.isdigit():  # a count that names another attribute: not an array we can size
            return 0
        count = int(text)
        if count > MAX_ARRAY_COUNT:
            raise self._error(f"array count {count} exceeds the limit of {MAX_ARRAY_COUNT}", el)
        return count

    def _index(self, templates: etree._Element | None, kind: str) -> dict[str, etree._Element]:
        found: dict[str, etree._Element] = {}
        if templates is None:
            return found
        for el in templates.iterchildren(_q(kind)):
            type_id = self._attr(el, "id")
            if type_id in found:
                raise self._error(f"duplicate {kind} id {type_id!r}", el)
            found[type_id] = el
        return found

    def _resolve(self, kind: str, type_id: str, memo: dict[str, _T], build: Callable[[etree._Element], _T],
                 user: etree._Element) -> _T:
        if type_id in memo:
            return memo[type_id]
        el = self._raw[kind].get(type_id)
        if el is None:
            raise self._error(f"{kind} {type_id!r} is not defined in DataTypeTemplates", user)
        key = f"{kind}:{type_id}"
        if key in self._resolving:
            raise self._error(f"{kind} {type_id!r} contains itself", el)
        self._resolving.add(key)
        memo[type_id] = built = build(el)
        self._resolving.discard(key)
        return built

    # -- templates ------------------------------------------------------------------------------------

    def enum_type(self, type_id: str, user: etree._Element) -> EnumType:
        return self._resolve("EnumType", type_id, self._enums, self._build_enum, user)

    def da_type(self, type_id: str, user: etree._Element) -> DAType:
        return self._resolve("DAType", type_id, self._da_types, self._build_da_type, user)

    def do_type(self, type_id: str, user: etree._Element) -> DOType:
        return self._resolve("DOType", type_id, self._do_types, self._build_do_type, user)

    def ln_type(self, type_id: str, user: etree._Element) -> LNodeType:
        return self._resolve("LNodeType", type_id, self._ln_types, self._build_ln_type, user)

    def _build_enum(self, el: etree._Element) -> EnumType:
        names: dict[int, str] = {}
        for val in el.iterchildren(_q("EnumVal")):
            try:
                names[int(self._attr(val, "ord"))] = (val.text or "").strip()
            except ValueError as exc:
                raise self._error(f"EnumVal ord of {el.get('id')!r} is not an integer", val) from exc
        return EnumType(id=el.get("id", ""), names=names, ords={n: o for o, n in names.items()})

    def _build_da_type(self, el: etree._Element) -> DAType:
        bdas = tuple(self._attribute(bda, fc="") for bda in el.iterchildren(_q("BDA")))
        return DAType(id=el.get("id", ""), attributes=bdas)

    def _build_do_type(self, el: etree._Element) -> DOType:
        children: list[AttributeType | DataObjectType] = []
        for child in el.iterchildren(_q("DA"), _q("SDO")):
            if child.tag == _q("DA"):
                children.append(self._attribute(child, fc=self._attr(child, "fc")))
            else:
                children.append(self._data_object(child))
        return DOType(id=el.get("id", ""), cdc=self._attr(el, "cdc"), children=tuple(children))

    def _build_ln_type(self, el: etree._Element) -> LNodeType:
        dos = tuple(self._data_object(do) for do in el.iterchildren(_q("DO")))
        return LNodeType(id=el.get("id", ""), ln_class=self._attr(el, "lnClass"), data_objects=dos)

    def _data_object(self, el: etree._Element) -> DataObjectType:
        return DataObjectType(
            name=self._attr(el, "name"), type=self.do_type(self._attr(el, "type"), el), count=self._count(el)
        )

    def _attribute(self, el: etree._Element, fc: str) -> AttributeType:
        btype = self._attr(el, "bType")
        type_id = el.get("type")
        struct = enum = None
        if btype == "Struct":
            struct = self.da_type(type_id or "", el)
        elif btype == "Enum":
            enum = self.enum_type(type_id or "", el)
        attr = AttributeType(
            name=self._attr(el, "name"),
            btype=btype,
            fc=fc,
            trg_ops=_trg_ops(el),
            count=self._count(el),
            struct=struct,
            enum=enum,
        )
        val = _first_val(el)
        if val is None:
            return attr
        return AttributeType(
            name=attr.name, btype=btype, fc=fc, trg_ops=attr.trg_ops, count=attr.count, struct=struct,
            enum=enum, default=self._value(val, attr),
        )

    def _value(self, val: etree._Element, attr: AttributeType) -> Value:
        try:
            return parse_value(val.text or "", attr.btype, attr.enum)
        except ValueError as exc:
            raise self._error(f"bad value for {attr.name!r} ({attr.btype}): {exc}", val) from exc

    # -- instances ------------------------------------------------------------------------------------

    def parse(self) -> SclDocument:
        ieds = tuple(self._ied(el) for el in self._root.iterchildren(_q("IED")))
        for ied in ieds:
            self._check_datasets(ied)
        return SclDocument(
            path=self._path,
            ieds=ieds,
            ln_types={k: self.ln_type(k, el) for k, el in self._raw["LNodeType"].items()},
            do_types={k: self.do_type(k, el) for k, el in self._raw["DOType"].items()},
            da_types={k: self.da_type(k, el) for k, el in self._raw["DAType"].items()},
            enum_types={k: self.enum_type(k, el) for k, el in self._raw["EnumType"].items()},
        )

    def _ied(self, el: etree._Element) -> IED:
        name = self._attr(el, "name")
        if problem := name_problem("IED", name):
            raise self._error(problem, el)
        lds = [
            self._ldevice(ld, name)
            for ap in el.iterchildren(_q("AccessPoint"))
            for server in ap.iterchildren(_q("Server"))
            for ld in server.iterchildren(_q("LDevice"))
        ]
        seen: set[str] = set()
        for ld in lds:
            if ld.name in seen:
                raise self._error(f"IED {name!r} has two logical devices named {ld.name!r}", el)
            seen.add(ld.name)
        return IED(name=name, ldevices=tuple(lds))

    def _ldevice(self, el: etree._Element, ied_name: str) -> LogicalDevice:
        inst = self._attr(el, "inst")
        lns = [self._ln(ln) for ln in el.iterchildren(_q("LN0"), _q("LN"))]
        names: set[str] = set()
        for ln in lns:
            if ln.name in names:
                raise self._error(f"LDevice {inst!r} has two logical nodes named {ln.name!r}", el)
            names.add(ln.name)
        ld = LogicalDevice(
            inst=inst, name=el.get("ldName") or f"{ied_name}{inst}", lns=tuple(lns), desc=el.get("desc", "")
        )
        if problem := name_problem("logical device", ld.name) or self._size.add(ld):
            raise self._error(problem, el)
        return ld

    def _ln(self, el: etree._Element) -> LogicalNode:
        ln_class = self._attr(el, "lnClass")
        ln_type = self.ln_type(self._attr(el, "lnType"), el)
        if ln_type.ln_class != ln_class:
            raise self._error(
                f"lnType {ln_type.id!r} is of class {ln_type.ln_class}, the LN is of class {ln_class}", el
            )
        values: dict[str, Value] = {}
        for doi in el.iterchildren(_q("DOI")):
            name = self._attr(doi, "name")
            do = ln_type.data_object(name)
            if do is None:
                raise self._error(f"DOI {name!r} is not a data object of lnType {ln_type.id!r}", doi)
            self._instance_values(doi, do, name, values)
        datasets = tuple(self._dataset(ds) for ds in el.iterchildren(_q("DataSet")))
        rcbs = tuple(self._report_control(rc, datasets) for rc in el.iterchildren(_q("ReportControl")))
        return LogicalNode(
            prefix=el.get("prefix", ""),
            ln_class=ln_class,
            inst=el.get("inst", ""),
            type=ln_type,
            values=values,
            datasets=datasets,
            report_controls=rcbs,
            desc=el.get("desc", ""),
            line=el.sourceline or 0,
        )

    def _instance_values(
        self, el: etree._Element, node: DataObjectType | AttributeType, path: str, values: dict[str, Value]
    ) -> None:
        for child in el.iterchildren(_q("SDI"), _q("DAI")):
            name = self._attr(child, "name")
            sub = _child_of(node, name)
            if sub is None:
                raise self._error(f"{path} has no component {name!r}", child)
            sub_path = f"{path}.{name}"
            if child.tag == _q("SDI"):
                self._instance_values(child, sub, sub_path, values)
                continue
            if not isinstance(sub, AttributeType):
                raise self._error(f"DAI {sub_path!r} names a data object, not an attribute", child)
            val = _first_val(child)
            if val is not None:
                values[sub_path] = self._value(val, sub)

    def _dataset(self, el: etree._Element) -> DataSet:
        members = tuple(
            FCDA(
                ld_inst=self._attr(fcda, "ldInst"),
                prefix=fcda.get("prefix", ""),
                ln_class=self._attr(fcda, "lnClass"),
                ln_inst=fcda.get("lnInst", ""),
                do_name=fcda.get("doName", ""),
                da_name=fcda.get("daName", ""),
                fc=self._attr(fcda, "fc"),
            )
            for fcda in el.iterchildren(_q("FCDA"))
        )
        return DataSet(name=self._attr(el, "name"), members=members)

    def _report_control(self, el: etree._Element, datasets: tuple[DataSet, ...]) -> ReportControl:
        dataset = el.get("datSet", "")
        if dataset and dataset not in {ds.name for ds in datasets}:
            raise self._error(f"ReportControl {el.get('name')!r} names an unknown DataSet {dataset!r}", el)
        trg = el.find(_q("TrgOps"))
        opt = el.find(_q("OptFields"))
        enabled = el.find(_q("RptEnabled"))
        try:
            return ReportControl(
                name=self._attr(el, "name"),
                dataset=dataset,
                rpt_id=el.get("rptID", ""),
                buffered=el.get("buffered", "false") == "true",
                conf_rev=int(el.get("confRev", "1")),
                buf_time_ms=int(el.get("bufTime", "0")),
                intg_pd_ms=int(el.get("intgPd", "0")),
                trg_ops=_true_flags(trg),
                opt_fields=_true_flags(opt),
                max_clients=int(enabled.get("max", "1")) if enabled is not None else 1,
            )
        except ValueError as exc:
            raise self._error(f"ReportControl {el.get('name')!r}: {exc}", el) from exc

    def _check_datasets(self, ied: IED) -> None:
        """Every FCDA must name an existing data object of an existing LN of this IED."""
        by_inst = {ld.inst: ld for ld in ied.ldevices}
        for ld in ied.ldevices:
            for ln in ld.lns:
                for ds in ln.datasets:
                    for member in ds.members:
                        target = by_inst.get(member.ld_inst)
                        target_ln = target.ln(member.ln_name) if target else None
                        do_name = member.do_name.split(".")[0]
                        if target_ln is None or (do_name and target_ln.type.data_object(do_name) is None):
                            raise SclError(
                                f"DataSet {ds.name!r} of {ld.name}/{ln.name} references "
                                f"{member.ld_inst}/{member.ln_name}.{member.do_name}, which does not exist",
                                path=self._path,
                                line=ln.line,
                            )


def _child_of(node: DataObjectType | AttributeType, name: str) -> DataObjectType | AttributeType | None:
    if isinstance(node, DataObjectType):
        return node.type.child(name)
    if node.struct is not None:
        return next((a for a in node.struct.attributes if a.name == name), None)
    return None


def _first_val(el: etree._Element) -> etree._Element | None:
    """The `Val` without a setting group, else the one of setting group 1."""
    vals = list(el.iterchildren(_q("Val")))
    return next((v for v in vals if v.get("sGroup") in {None, "1"}), None)


def _trg_ops(el: etree._Element) -> TrgOps:
    flags = TrgOps.NONE
    for name, flag in (("dchg", TrgOps.DCHG), ("qchg", TrgOps.QCHG), ("dupd", TrgOps.DUPD)):
        if el.get(name) == "true":
            flags |= flag
    return flags


def _true_flags(el: etree._Element | None) -> frozenset[str]:
    return frozenset(k for k, v in _items(el) if v == "true")


def _items(el: etree._Element | None) -> Iterator[tuple[str, str]]:
    if el is not None:
        yield from ((str(k), str(v)) for k, v in el.attrib.items())
