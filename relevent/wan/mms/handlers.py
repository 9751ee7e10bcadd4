"""Route libiec61850's write-access and control-check callbacks to a `Gate`, failing closed.

The callbacks arrive on libiec61850's thread; their work runs on the event loop (`LoopHop`). Both
callbacks are ctypes functions on the same library rather than SWIG directors: one mechanism for
every callback, no process-wide subscriber registry (a second server in one process would be refused),
and an exception can never reach C++ (where it aborts the process). Every callback still catches
everything itself: an answer that cannot be computed is a rejection, never an acceptance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import structlog

from relevent.scheduler.commands import Actor
from relevent.wan.mms import mms_value
from relevent.wan.mms.builder import BuiltModel
from relevent.wan.mms.gate import AddCause, ControlValue, Gate, Verdict
from relevent.wan.mms.hop import LoopHop
from relevent.wan.mms.lib import ControlCheckHandler, WriteAccessHandler, iec, lib
from relevent.wan.mms.ref_table import RefTable
from relevent.wan.mms.write_table import WriteTable

log = structlog.get_logger(__name__)

_CHECK_RESULTS: dict[Verdict, int] = {
    Verdict.SUCCESS: iec.CONTROL_ACCEPTED,
    Verdict.HARDWARE_FAULT: iec.CONTROL_HARDWARE_FAULT,
    Verdict.TEMPORARILY_UNAVAILABLE: iec.CONTROL_TEMPORARILY_UNAVAILABLE,
    Verdict.OBJECT_ACCESS_DENIED: iec.CONTROL_OBJECT_ACCESS_DENIED,
    Verdict.OBJECT_UNDEFINED: iec.CONTROL_OBJECT_UNDEFINED,
    Verdict.OBJECT_NON_EXISTENT: iec.CONTROL_OBJECT_UNDEFINED,
    Verdict.OBJECT_VALUE_INVALID: iec.CONTROL_VALUE_INVALID,
    Verdict.TYPE_INCONSISTENT: iec.CONTROL_VALUE_INVALID,
}


# The actor behind a libiec61850 ClientConnection; None: one that must not change anything (refused, logged).
Identify = Callable[[int | None], Actor | None]


def peer_address(connection: int | None) -> str:
    """libiec61850's `host:port` of a connection's peer ("unknown" when it has none)."""
    peer = lib.ClientConnection_getPeerAddress(connection) if connection else None
    return peer.decode("ascii", "replace") if peer else "unknown"


def control_value(decoded: mms_value.Decoded) -> ControlValue:
    """The ctlVal of an Oper structure: a scalar, or an AnalogueValue's `f` (else `i`)."""
    if isinstance(decoded, tuple):
        numbers = [v for v in decoded if isinstance(v, int | float)]
        floats = [v for v in numbers if isinstance(v, float)]
        if not numbers:
            raise TypeError(f"unsupported control value {decoded!r}")
        return (floats or numbers)[0]
    if not isinstance(decoded, bool | int | float):
        raise TypeError(f"unsupported control value {decoded!r}")
    return decoded


class GateHandlers:
    """The gate's attributes and controllable DOs, registered with a server; keep it as long as the server.

    Constructing it does the Python work (which leaf is whose, while libiec61850 may still be creating the
    server); `register` hands it to the server. libiec61850 stores raw function pointers, so the ctypes
    callback objects live on this instance.
    """

    def __init__(self, model: BuiltModel, gate: Gate, identify: Identify, hop: LoopHop) -> None:
        """`identify` names a connection's actor when it writes or operates; `hop` runs both on the loop."""
        self._model = model
        self._gate = gate
        self._identify = identify
        self._hop = hop
        self._writes = RefTable(model.full_ref(ref) for ref in gate.writable_refs())  # by handler parameter
        self._attributes = _settable_leaves(model, self._writes)
        self._controls = {model.node(ref): ref for ref in model.controllable}  # DataObject* -> full reference
        self._on_write_c = WriteAccessHandler(self._on_write)
        self._on_check_c = ControlCheckHandler(self._on_check)
        self.write_table: WriteTable | None = None

    def register(self, server: int) -> None:
        """Install the handlers on `server`."""
        for do in self._controls:
            lib.IedServer_setPerformCheckHandler(server, do, self._on_check_c, None)
        # last: nothing may fail between linking the table in and the server keeping this object
        self.write_table = WriteTable(server, self._model.ptr, self._attributes, self._on_write_c)
        self._attributes = []

    def release(self) -> None:
        """Give back what libiec61850 must not free itself; call before the server is destroyed."""
        if self.write_table is not None:
            self.write_table.release()

    def _on_write(self, _: int, value: int, connection: int | None, index: int | None) -> int:
        unanswered = int(Verdict.TEMPORARILY_UNAVAILABLE)
        return self._hop.run(partial(self._write, value, connection, index), unanswered)

    def _write(self, value: int, connection: int | None, index: int | None) -> int:
        ref: str | None = None
        try:
            ref = self._writes[index or 0]
            decoded = mms_value.decode(value)
            if isinstance(decoded, tuple):  # handlers are registered on leaves only
                return int(Verdict.TYPE_INCONSISTENT)
            actor = self._identify(connection)
            if actor is None:
                log.warning("mms write denied: nobody's connection", ref=ref, peer=peer_address(connection))
                return int(Verdict.OBJECT_ACCESS_DENIED)
            return int(Verdict(self._gate.write(ref, decoded, actor)))
        except BaseException:
            log.exception("mms write handler failed; write denied", ref=ref)
            return int(Verdict.OBJECT_ACCESS_DENIED)

    def _on_check(self, action: int, _: int | None, ctl_val: int, test: bool, __: bool) -> int:
        unanswered = int(iec.CONTROL_TEMPORARILY_UNAVAILABLE)
        return self._hop.run(partial(self._check, action, ctl_val, test), unanswered)

    def _check(self, action: int, ctl_val: int, test: bool) -> int:
        try:
            if lib.ControlAction_isSelect(action):
                return int(iec.CONTROL_ACCEPTED)  # the gate decides at operate; a select changes nothing
            ref = self._controls[lib.ControlAction_getControlObject(action)]
            connection = lib.ControlAction_getClientConnection(action)
            actor = self._identify(connection)
            if actor is None:
                log.warning("mms operate denied: nobody's connection", ref=ref, peer=peer_address(connection))
                lib.ControlAction_setAddCause(action, int(AddCause.NO_ACCESS_AUTHORITY))
                return int(iec.CONTROL_OBJECT_ACCESS_DENIED)
            decision = self._gate.operate(ref, control_value(mms_value.decode(ctl_val)), bool(test), actor)
            if not decision.accepted:
                lib.ControlAction_setAddCause(action, int(decision.add_cause))
            return _CHECK_RESULTS.get(decision.verdict, int(iec.CONTROL_OBJECT_ACCESS_DENIED))
        except BaseException:
            log.exception("mms control check failed; operate refused")
            lib.ControlAction_setAddCause(action, int(AddCause.UNKNOWN))
            return int(iec.CONTROL_HARDWARE_FAULT)


def _settable_leaves(model: BuiltModel, refs: Iterable[str]) -> list[int]:
    """The handles of FC SP leaf attributes; ValueError for anything a write handler cannot guard."""
    leaves = []
    for ref in refs:
        leaf = model.leaf(ref)
        if leaf is None:
            raise ValueError(f"the gate claims {ref!r}, which is not a basic attribute of the served model")
        handle, da_type, fc = leaf
        if da_type == iec.IEC61850_CONSTRUCTED or fc != iec.IEC61850_FC_SP:
            raise ValueError(f"the gate claims {ref!r}, which is not an FC SP leaf attribute")
        leaves.append(handle)
    return leaves
