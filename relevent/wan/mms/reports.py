"""DataSets and report control blocks: the SCL's own, or ([mms] reports = "auto") one scheduling set per LD.

The automatic set is what SCADA needs to follow schedules without polling: every controller output
(ValMV/ValSPS/ValINS/ValENS) and ActSchdRef, and every schedule's SchdSt, reported by buffered and
unbuffered RCBs in LLN0 (see the instance counts below).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from relevent.config import ReportsMode
from relevent.refs import from_mms, split_ld
from relevent.scl.model import FCDA, AttributeType, DOType, LogicalDevice, LogicalNode, ReportControl
from relevent.timing import REPORT_BUF_TIME_MS
from relevent.wan.mms.builder import BuiltModel
from relevent.wan.mms.lib import iec, lib

# One unbuffered instance per connection libiec61850 serves (5 by default). Buffered instances cost CPU
# even unused: at every reported change libiec61850 checks the data set of every buffered block, enabled
# or not (docs/performance.md); two serve a main and a standby SCADA. A site
# that needs more defines its own blocks in the SCL.
UNBUFFERED_INSTANCES = 5
BUFFERED_INSTANCES = 2
# A report carries reference, value, q, t and reason of every member; 64 members stay far below the MMS
# PDU size libiec61850 negotiates (65000 bytes) even with 129-character references.
MAX_MEMBERS = 64
_CONTROLLER_OUTPUTS = ("ValMV", "ValSPS", "ValINS", "ValENS", "ActSchdRef")

_TRG_OPS = {
    "dchg": iec.TRG_OPT_DATA_CHANGED, "qchg": iec.TRG_OPT_QUALITY_CHANGED, "dupd": iec.TRG_OPT_DATA_UPDATE,
    "period": iec.TRG_OPT_INTEGRITY, "gi": iec.TRG_OPT_GI,
}
_OPT_FIELDS = {
    "seqNum": iec.RPT_OPT_SEQ_NUM, "timeStamp": iec.RPT_OPT_TIME_STAMP,
    "reasonCode": iec.RPT_OPT_REASON_FOR_INCLUSION, "dataSet": iec.RPT_OPT_DATA_SET,
    "dataRef": iec.RPT_OPT_DATA_REFERENCE, "bufOvfl": iec.RPT_OPT_BUFFER_OVERFLOW,
    "entryID": iec.RPT_OPT_ENTRY_ID, "configRef": iec.RPT_OPT_CONF_REV,
}
# dupd too: the reference models trigger ValMV.mag on data update only, and the scheduler updates an
# output only when it changes, so an update is a change here.
_AUTO_TRG = frozenset({"dchg", "qchg", "dupd", "gi"})
_AUTO_OPT = frozenset({"seqNum", "timeStamp", "reasonCode", "dataSet", "dataRef", "configRef"})


def add_report_blocks(model: BuiltModel, mode: ReportsMode) -> list[str]:
    """Add the DataSets and RCBs to a model (before its server is created); return the RCB references.

    "scl" serves exactly the SCL's blocks; "auto" does too when the SCL has any, else adds the
    scheduling set to every LD that has an LLN0.
    """
    lds = model.ied.ldevices
    from_scl = mode == "scl" or any(ln.datasets or ln.report_controls for ld in lds for ln in ld.lns)
    refs: list[str] = []
    for ld in lds:
        if from_scl:
            for ln in ld.lns:
                refs.extend(_scl_blocks(model, ld, ln))
        elif (lln0 := ld.ln("LLN0")) is not None:
            refs.extend(_auto_blocks(model, ld, lln0))
    return refs


def reported(model: BuiltModel, member: str, ld: LogicalDevice) -> str:
    """The dotted reference (`LD/LN.DO[.DA]`) a data set entry `[LDinst/]LN$FC$DO[$DA]` covers."""
    ld_inst, variable = split_ld(member)
    target = next((d for d in model.ied.ldevices if d.inst == ld_inst), ld) if ld_inst else ld
    return f"{target.name}/{from_mms(variable)}"


def _scl_blocks(model: BuiltModel, ld: LogicalDevice, ln: LogicalNode) -> Iterator[str]:
    ln_ptr = model.node(f"{ld.name}/{ln.name}")
    for ds in ln.datasets:
        _dataset(model, ld, ln_ptr, ds.name, [_member(ld, m) for m in ds.members])
    for rc in ln.report_controls:
        # several instances are numbered name01, name02, ... (IEC 61850-8-1 convention)
        count = rc.max_clients
        for name in [rc.name] if count <= 1 else [f"{rc.name}{i:02d}" for i in range(1, count + 1)]:
            _rcb(ln_ptr, name, rc)
            yield f"{ld.name}/{ln.name}.{name}"


def _auto_blocks(model: BuiltModel, ld: LogicalDevice, lln0: LogicalNode) -> Iterator[str]:
    members = list(_scheduling_members(ld))
    ln_ptr = model.node(f"{ld.name}/{lln0.name}")
    for part, start in enumerate(range(0, len(members), MAX_MEMBERS)):
        suffix = "" if part == 0 else chr(ord("A") + part)  # dsSched, dsSchedB, dsSchedC, ...
        dataset = f"dsSched{suffix}"
        _dataset(model, ld, ln_ptr, dataset, members[start:start + MAX_MEMBERS])
        for buffered in (False, True):
            instances = BUFFERED_INSTANCES if buffered else UNBUFFERED_INSTANCES
            block = ReportControl(
                name=f"{'b' if buffered else 'u'}rcbSched{suffix}", dataset=dataset, rpt_id="",
                buffered=buffered,
                conf_rev=1, buf_time_ms=REPORT_BUF_TIME_MS, intg_pd_ms=0, trg_ops=_AUTO_TRG,
                opt_fields=_AUTO_OPT | ({"bufOvfl", "entryID"} if buffered else set()),
                max_clients=instances,
            )
            for i in range(1, instances + 1):
                _rcb(ln_ptr, f"{block.name}{i:02d}", block)
                yield f"{ld.name}/{lln0.name}.{block.name}{i:02d}"


def _scheduling_members(ld: LogicalDevice) -> Iterator[str]:
    """`LN$FC$DO` of every controller output and ActSchdRef and every schedule's SchdSt."""
    for ln in ld.lns:
        names = _CONTROLLER_OUTPUTS if ln.ln_class == "FSCC" else ("SchdSt",) if ln.ln_class == "FSCH" else ()
        for name in names:
            do = ln.type.data_object(name)
            fc = _value_fc(do.type) if do is not None else None
            if fc is not None:
                yield f"{ln.name}${fc}${name}"


def _value_fc(do_type: DOType) -> str | None:
    """The FC of a data object's status or measured value (ST or MX)."""
    fcs = (c.fc for c in do_type.children if isinstance(c, AttributeType))
    return next((fc for fc in fcs if fc in {"ST", "MX"}), None)


def _member(ld: LogicalDevice, fcda: FCDA) -> str:
    """An FCDA as a libiec61850 data set entry: `[LDinst/]LN$FC$DO[$DA]`."""
    path = "$".join(p for p in (fcda.do_name, fcda.da_name) if p).replace(".", "$")
    variable = f"{fcda.ln_name}${fcda.fc}${path}" if path else f"{fcda.ln_name}${fcda.fc}"
    return variable if fcda.ld_inst == ld.inst else f"{fcda.ld_inst}/{variable}"


def _dataset(model: BuiltModel, ld: LogicalDevice, ln_ptr: int, name: str, members: Iterable[str]) -> None:
    dataset = lib.DataSet_create(name.encode(), ln_ptr)
    for member in members:
        lib.DataSetEntry_create(dataset, member.encode(), -1, None)
        model.reported.add(reported(model, member, ld))


def _rcb(ln_ptr: int, name: str, rc: ReportControl) -> None:
    trg = sum(bit for flag, bit in _TRG_OPS.items() if flag in rc.trg_ops)
    opt = sum(bit for flag, bit in _OPT_FIELDS.items() if flag in rc.opt_fields)
    lib.ReportControlBlock_create(
        name.encode(), ln_ptr, rc.rpt_id.encode() or None, rc.buffered, rc.dataset.encode() or None,
        rc.conf_rev, trg, opt, rc.buf_time_ms, rc.intg_pd_ms,
    )
