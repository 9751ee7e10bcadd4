"""Build the libiec61850 data model (`IedModel`) of one IED straight from its `SclDocument`.

Start-up cost grows with the number of instantiated attributes (about 9,000 per reference-sized logical
device), so each LNodeType is compiled once into a flat list of create operations plus its type-default
values; instantiating a logical node is then one tight loop of C calls, and only the few values its DOI/DAI
elements override are encoded per instance. No Python object per attribute outlives the build: attribute
handles are looked up by reference when needed (`BuiltModel.node`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from relevent.errors import SclError
from relevent.refs import full_ref, lineage, split_owner
from relevent.scl.model import IED, AttributeType, DataObjectType, DOType, LNodeType, LogicalNode, SclDocument
from relevent.wan.mms import mms_value
from relevent.wan.mms.lib import iec, lib

BTYPES: dict[str, int] = {
    "BOOLEAN": iec.IEC61850_BOOLEAN,
    "INT8": iec.IEC61850_INT8,
    "INT16": iec.IEC61850_INT16,
    "INT24": iec.IEC61850_INT32,  # libiec61850 has no 24-bit signed type; the MMS encoding is the same
    "INT32": iec.IEC61850_INT32,
    "INT64": iec.IEC61850_INT64,
    "INT128": iec.IEC61850_INT128,
    "INT8U": iec.IEC61850_INT8U,
    "INT16U": iec.IEC61850_INT16U,
    "INT24U": iec.IEC61850_INT24U,
    "INT32U": iec.IEC61850_INT32U,
    "FLOAT32": iec.IEC61850_FLOAT32,
    "FLOAT64": iec.IEC61850_FLOAT64,
    "Enum": iec.IEC61850_ENUMERATED,
    "Dbpos": iec.IEC61850_CODEDENUM,
    "Tcmd": iec.IEC61850_CODEDENUM,
    "Quality": iec.IEC61850_QUALITY,
    "Timestamp": iec.IEC61850_TIMESTAMP,
    "EntryTime": iec.IEC61850_ENTRY_TIME,
    "Check": iec.IEC61850_CHECK,
    "TrgOps": iec.IEC61850_TRGOPS,
    "OptFlds": iec.IEC61850_OPTFLDS,
    "PhyComAddr": iec.IEC61850_PHYCOMADDR,
    "Currency": iec.IEC61850_CURRENCY,
    "VisString32": iec.IEC61850_VISIBLE_STRING_32,
    "VisString64": iec.IEC61850_VISIBLE_STRING_64,
    "VisString65": iec.IEC61850_VISIBLE_STRING_65,
    "VisString129": iec.IEC61850_VISIBLE_STRING_129,
    "ObjRef": iec.IEC61850_VISIBLE_STRING_129,
    "VisString255": iec.IEC61850_VISIBLE_STRING_255,
    "Unicode255": iec.IEC61850_UNICODE_STRING_255,
    "Octet6": iec.IEC61850_OCTET_STRING_6,
    "Octet8": iec.IEC61850_OCTET_STRING_8,
    "Octet64": iec.IEC61850_OCTET_STRING_64,
    "Struct": iec.IEC61850_CONSTRUCTED,
}
FCS: dict[str, int] = {
    name: getattr(iec, f"IEC61850_FC_{name}")
    for name in ("ST", "MX", "SP", "SV", "CF", "DC", "SG", "SE", "SR", "OR", "BL", "EX", "CO", "US", "MS",
                 "RP", "BR", "LG", "GO")
}
CONTROLLABLE_MODELS = frozenset({
    iec.CONTROL_MODEL_DIRECT_NORMAL, iec.CONTROL_MODEL_SBO_NORMAL,
    iec.CONTROL_MODEL_DIRECT_ENHANCED, iec.CONTROL_MODEL_SBO_ENHANCED,
})

_DO, _DA, _ELEMENT = 0, 1, 2
# (kind, parent index, name, DataAttributeType, FC, trigger options, array count or element index)
_Op = tuple[int, int, bytes, int, int, int, int]


@dataclass(slots=True)
class _Template:
    """An LNodeType compiled into create operations; index 0 is the logical node itself."""

    ops: list[_Op] = field(default_factory=list)
    paths: dict[str, tuple[int, int]] = field(default_factory=dict)  # "DO.DA.BDA" -> (index, type)
    defaults: list[tuple[int, int]] = field(default_factory=list)  # (index, MmsValue we own)
    controls: list[str] = field(default_factory=list)  # DOs with an Oper: controllable unless status-only

    def add(self, op: _Op) -> int:
        self.ops.append(op)
        return len(self.ops)

    def leaf(self, path: str) -> tuple[int, int, int] | None:
        """(index, DataAttributeType, FC) of the basic attribute at `path` (`DO.DA[.BDA]`), or None."""
        found = self.paths.get(path)
        if found is None:
            return None
        index, da_type = found
        return index, da_type, self.ops[index - 1][4]


class _Compiler:
    """Turns an LNodeType into a `_Template` (type defaults encoded once, owned until `release`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._templates: dict[str, _Template] = {}
        self._tmpl = _Template()  # the template being compiled

    def template(self, ln_type: LNodeType) -> _Template:
        found = self._templates.get(ln_type.id)
        if found is None:
            found = self._tmpl = self._templates[ln_type.id] = _Template()
            for do in ln_type.data_objects:
                self._data_object(0, do.name, do.type, do.count, do.name)
        return found

    def release(self) -> None:
        for template in self._templates.values():
            for _, mms in template.defaults:
                lib.MmsValue_delete(mms)
            template.defaults.clear()

    def _elements(self, index: int, count: int) -> list[int]:
        """The parents of an array's components: libiec61850 creates the elements, we fetch them."""
        if count == 0:
            return [index]
        return [self._tmpl.add((_ELEMENT, index, b"", 0, 0, 0, i)) for i in range(count)]

    def _data_object(self, parent: int, name: str, do_type: DOType, count: int, path: str | None) -> None:
        index = self._tmpl.add((_DO, parent, name.encode(), 0, 0, 0, count))
        if path is not None and do_type.child("Oper") is not None:
            self._tmpl.controls.append(path)
        sub_path = path if count == 0 else None  # array elements have no SCL path for initial values
        for element in self._elements(index, count):
            for child in do_type.children:
                child_path = f"{sub_path}.{child.name}" if sub_path else None
                if isinstance(child, DataObjectType):
                    self._data_object(element, child.name, child.type, child.count, child_path)
                else:
                    self._attribute(element, child, (FCS[child.fc], int(child.trg_ops)), child_path)

    def _attribute(self, parent: int, attr: AttributeType, fc_trg: tuple[int, int], path: str | None) -> None:
        da_type = BTYPES.get(attr.btype)
        if da_type is None:
            raise SclError(f"{path or attr.name}: basic type {attr.btype!r} is unsupported", path=self.path)
        index = self._tmpl.add((_DA, parent, attr.name.encode(), da_type, *fc_trg, attr.count))
        if attr.struct is not None:
            sub_path = path if attr.count == 0 else None
            for element in self._elements(index, attr.count):
                for bda in attr.struct.attributes:  # components inherit FC and trigger options
                    self._attribute(element, bda, fc_trg, f"{sub_path}.{bda.name}" if sub_path else None)
            return
        if path is None:
            return
        self._tmpl.paths[path] = (index, da_type)
        if attr.default is not None:
            self._tmpl.defaults.append((index, self.encode(attr.default, da_type, path)))

    def encode(self, value: mms_value.Scalar, da_type: int, path: str) -> int:
        try:
            return mms_value.encode(value, da_type)
        except (TypeError, ValueError, KeyError) as exc:
            message = f"{path}: initial value {value!r} cannot be served: {exc}"
            raise SclError(message, path=self.path) from None


@dataclass(frozen=True, slots=True)
class BuiltModel:
    """An IedModel in C memory (free it with `destroy` after its server) and what the server needs to know."""

    ptr: int
    ied: IED
    controllable: tuple[str, ...]  # full references of the DOs to register control handlers on
    # "LD/LN" -> its compiled type and the handles of its nodes (by the type's indexes)
    lns: dict[str, tuple[_Template, array[int]]] = field(default_factory=dict)
    # `LD/LN.DO[.DA]` covered by a data set member, filled when the report blocks are added
    reported: set[str] = field(default_factory=set)

    def leaf(self, ref: str) -> tuple[int, int, int] | None:
        """(handle, DataAttributeType, FC) of the basic attribute at full reference `ref`, or None.

        Plain dictionary lookups: no walk of the C model (whose search by reference is linear in the
        logical devices).
        """
        owner, path = split_owner(ref)
        found = self.lns.get(owner)
        leaf = found[0].leaf(path) if found is not None else None
        if found is None or leaf is None:
            return None
        index, da_type, fc = leaf
        return found[1][index], da_type, fc

    def is_reported(self, ref: str) -> bool:
        """Whether a data set (so a report) observes the attribute at `ref`, or an object above it."""
        return any(obj in self.reported for obj in lineage(ref))

    def full_ref(self, ref: str) -> str:
        """`ref` in the full form (accepts `@LD/...` references of this IED)."""
        return full_ref(ref, self.ied.name)

    def node(self, ref: str) -> int:
        """The model node (DataObject or DataAttribute handle) at `ref`; KeyError when it does not exist."""
        ptr = lib.IedModel_getModelNodeByObjectReference(self.ptr, self.full_ref(ref).encode())
        if not ptr:
            raise KeyError(ref)
        return int(ptr)

    def destroy(self) -> None:
        """Free the C model; only after the server using it has been destroyed."""
        lib.IedModel_destroy(self.ptr)


def build_model(doc: SclDocument, ied_name: str | None = None) -> BuiltModel:
    """Create the IedModel of one IED.

    Every LD/LN/DO/SDO/DA/BDA with FC, trigger options, array counts and initial values (instance values
    override type defaults). Report blocks are added by `reports`.
    """
    ied = doc.ied(ied_name)
    compiler = _Compiler(doc.path)
    model = int(lib.IedModel_create(ied.name.encode()))
    controllable: list[str] = []
    lns: dict[str, tuple[_Template, array[int]]] = {}
    try:
        for ld in ied.ldevices:
            if ld.name == ied.name + ld.inst:  # standard naming: libiec61850 prefixes the IED name itself
                ld_ptr = lib.LogicalDevice_create(ld.inst.encode(), model)
            else:  # functional naming (ldName): the domain is exactly the LD's name
                ld_ptr = lib.LogicalDevice_createEx(ld.inst.encode(), model, ld.name.encode())
            for ln in ld.lns:
                ln_ptr = int(lib.LogicalNode_create(ln.name.encode(), ld_ptr))
                template = compiler.template(ln.type)
                lns[f"{ld.name}/{ln.name}"] = (template, _instantiate(template, ln_ptr, ln, compiler))
                controllable.extend(f"{ld.name}/{ln.name}.{do}" for do in _controls(template, ln))
    except BaseException:
        lib.IedModel_destroy(model)
        raise
    finally:
        compiler.release()
    return BuiltModel(ptr=model, ied=ied, controllable=tuple(controllable), lns=lns)


def _instantiate(tmpl: _Template, ln_ptr: int, ln: LogicalNode, compiler: _Compiler) -> array[int]:
    """Create the nodes of `ln` under `ln_ptr`; their handles, indexed like the template's operations."""
    create_da, create_do = lib.DataAttribute_create, lib.DataObject_create
    element = lib.ModelNode_getChildWithIdx
    handles = [ln_ptr]
    append = handles.append
    for kind, parent, name, da_type, fc, trg, number in tmpl.ops:
        if kind == _DA:
            append(create_da(name, handles[parent], da_type, fc, trg, number, 0))
        elif kind == _DO:
            append(create_do(name, handles[parent], number))
        else:
            append(element(handles[parent], number))
    set_value = lib.DataAttribute_setValue  # libiec61850 copies the value
    for index, mms in tmpl.defaults:
        set_value(handles[index], mms)
    for path, value in ln.values.items():
        if path not in tmpl.paths:
            raise SclError(f"{ln.name}.{path}: an initial value for a node that is not a basic attribute",
                           path=compiler.path, line=ln.line)
        index, da_type = tmpl.paths[path]
        mms = compiler.encode(value, da_type, f"{ln.name}.{path}")
        set_value(handles[index], mms)
        lib.MmsValue_delete(mms)
    return array("Q", handles)


def _controls(tmpl: _Template, ln: LogicalNode) -> Iterator[str]:
    """The DOs of `ln` whose ctlModel (instance value or type default) makes them controllable."""
    for path in tmpl.controls:
        if ln.initial(f"{path}.ctlModel") in CONTROLLABLE_MODELS:
            yield path
