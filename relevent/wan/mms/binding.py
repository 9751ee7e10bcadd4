"""The MMS adapter's glue to the scheduler: requests become engine commands, events become model updates.

Client writes and operates become engine commands; engine events become updates of value, q and t.

Values cross here in both directions: MMS timestamps are aware datetimes, the engine's are float epoch
seconds; an MMS `CalendarTime` is eight leaf attributes, the engine's one struct.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from relevent.refs import split_owner
from relevent.scheduler.commands import Actor, Rejected, RejectReason
from relevent.scheduler.engine import Engine
from relevent.scheduler.events import AttributeChanged, AttributeData, AttributeValue, Event
from relevent.scheduler.periodic import CALENDAR_FIELDS, CalendarTime
from relevent.scl.model import AttributeType, LogicalNode, SclDocument, attribute_at, iter_attributes
from relevent.wan.mms.gate import ACCEPTED, AddCause, ControlValue, ControlVerdict, Verdict, WriteValue
from relevent.wan.mms.mirror import Update
from relevent.wan.mms.mms_value import Scalar

if TYPE_CHECKING:
    from relevent.wan.mms.server import MmsServer

_WRITE_VERDICTS = {
    RejectReason.ACCESS_DENIED: Verdict.OBJECT_ACCESS_DENIED,
    RejectReason.VALUE_INVALID: Verdict.OBJECT_VALUE_INVALID,
    RejectReason.TEMPORARILY_UNAVAILABLE: Verdict.TEMPORARILY_UNAVAILABLE,
    RejectReason.OBJECT_UNDEFINED: Verdict.OBJECT_NON_EXISTENT,
    RejectReason.TYPE_CONFLICT: Verdict.TYPE_INCONSISTENT,
}
# The AddCause a SCADA operator sees in LastApplError for each refused operate.
_ADD_CAUSES = {
    RejectReason.ACCESS_DENIED: AddCause.BLOCKED_BY_MODE,
    RejectReason.VALUE_INVALID: AddCause.INCONSISTENT_PARAMETERS,
    RejectReason.TEMPORARILY_UNAVAILABLE: AddCause.BLOCKED_BY_HEALTH,
    RejectReason.OBJECT_UNDEFINED: AddCause.NOT_SUPPORTED,
    RejectReason.TYPE_CONFLICT: AddCause.INCONSISTENT_PARAMETERS,
}

_ZEROS: dict[type, Scalar] = {
    bool: False, int: 0, float: 0.0, str: "", datetime: datetime.fromtimestamp(0, UTC),
}


class SchedulerBinding:
    """A `Gate` backed by the engine, and the mirror of the engine's attributes into a served model."""

    def __init__(self, engine: Engine, doc: SclDocument, ied_name: str) -> None:
        self._engine = engine
        owned = {c.ref for c in engine.model.controllers} | {s.ref for s in engine.model.schedules}
        self._lns: dict[str, LogicalNode] = {  # "LD/LN" -> description, of the schedules and controllers
            owner: ln
            for ied in doc.ieds if ied.name == ied_name
            for ld in ied.ldevices
            for ln in ld.lns
            if (owner := f"{ld.name}/{ln.name}") in owned
        }  # fmt: skip
        self._attributes: dict[tuple[int, str], tuple[str, AttributeType] | None] = {}
        self._server: MmsServer | None = None
        self._deferred: list[AttributeChanged] = []
        self._snapshot: dict[str, AttributeValue] = {}  # see `start_mirroring`
        self._startup: list[Update] | None = None  # see `compute_startup_mirror`

    # ---- Gate ---------------------------------------------------------------------------------------------

    def writable_refs(self) -> Iterator[str]:
        """Every FC SP leaf attribute of the schedules and controllers."""
        for owner, ln in self._lns.items():
            for path, fc, attr in iter_attributes(ln.type):
                if fc == "SP" and attr.struct is None:
                    yield f"{owner}.{path}"

    def write(self, ref: str, value: WriteValue, actor: Actor) -> Verdict:
        """Hand a client's write to the engine; an accepted one is re-mirrored in its canonical form."""
        if isinstance(value, bytes):
            return Verdict.TYPE_INCONSISTENT
        written = value.timestamp() if isinstance(value, datetime) else value
        result = self._engine.write(ref, written, actor)
        if isinstance(result, Rejected):  # the engine has logged it, with the actor
            return _WRITE_VERDICTS[result.reason]
        # libiec61850 stores the client's value after this returns; the engine's form (full references,
        # normalised numbers) replaces it right after.
        asyncio.get_running_loop().call_soon(self._remirror, ref)
        return Verdict.SUCCESS

    def operate(self, ref: str, ctl_val: ControlValue, test: bool, actor: Actor) -> ControlVerdict:
        """Hand an operate of EnaReq/DsaReq to the engine; refusals carry an AddCause SCADA understands."""
        if not isinstance(ctl_val, bool):
            return ControlVerdict(Verdict.TYPE_INCONSISTENT, AddCause.INCONSISTENT_PARAMETERS)
        result = self._engine.operate(ref, ctl_val, test, actor)
        if isinstance(result, Rejected):
            return ControlVerdict(_WRITE_VERDICTS[result.reason], _ADD_CAUSES[result.reason])
        return ACCEPTED

    # ---- mirror -------------------------------------------------------------------------------------------

    def start_mirroring(self) -> None:
        """Take the engine's attributes as they are now and queue every change from now on, until `attach`.

        Call it on the loop thread once the engine has started; it needs no server, so the loop and the
        scheduler may go on while libiec61850 creates it.
        """
        self._snapshot = self._engine.snapshot()
        self._engine.subscribe(self._on_event)

    def compute_startup_mirror(self) -> None:
        """Compute the start-up mirror from `start_mirroring`'s snapshot: what differs from the loaded SCL.

        Pure Python on data of its own (no engine, no server): it may run in a worker thread between
        `start_mirroring` and `attach` (at 100 devices it compares ~450,000 leaves).
        """
        snapshot, self._snapshot = self._snapshot, {}
        updates = []
        for ref, item in snapshot.items():
            leaves = self._leaves(ref, item.value)
            changed = [(leaf, v) for leaf, v in leaves if not self._holds_loaded_value(leaf, v)]
            if changed:
                stamp = datetime.fromtimestamp(item.timestamp, UTC)
                updates += [Update(leaf, value, item.quality_good, stamp) for leaf, value in changed]
        self._startup = updates

    def attach(self, server: MmsServer) -> None:
        """Mirror the start-up attributes and the changes since `start_mirroring` into `server`, then each.

        Call it before the server starts: these are written in place, unreported.
        """
        if self._startup is None:
            self.compute_startup_mirror()
        assert self._startup is not None
        queued, self._deferred = self._deferred, []
        updates = self._startup + [update for event in queued for update in self._updates(event.ref, event)]
        self._startup = None
        self._server = server
        server.preload(updates)
        server.mirror_from(self._mirror_deferred)

    def _on_event(self, event: Event) -> None:
        # Mirrored right after the burst of changes, in order, in slices between the scheduler's instants
        # (`MmsServer.submit`); what an MMS client's write changed is in before its answer (`mirror_from`).
        # An entry boundary's status reaches us after its device commands have gone out (the engine's
        # STATUS_DELAY_S).
        if not isinstance(event, AttributeChanged):
            return
        if not self._deferred and self._server is not None:  # before `attach` they wait for it
            asyncio.get_running_loop().call_soon(self._mirror_deferred)
        self._deferred.append(event)  # converted when flushed: nothing but an append inside the burst

    def _remirror(self, ref: str) -> None:
        current = self._engine.read(ref)
        if isinstance(current, AttributeValue) and self._server is not None:
            self._server.submit(self._updates(ref, current))

    def _mirror_deferred(self) -> None:
        events, self._deferred = self._deferred, []
        if self._server is not None:
            self._server.submit(update for event in events for update in self._updates(event.ref, event))

    def _updates(self, ref: str, item: AttributeValue | AttributeChanged) -> Iterator[Update]:
        stamp = datetime.fromtimestamp(item.timestamp, UTC)
        for leaf, value in self._leaves(ref, item.value):
            yield Update(leaf, value, item.quality_good, stamp)

    def _leaves(self, ref: str, value: AttributeData) -> Iterator[tuple[str, Scalar]]:
        if isinstance(value, CalendarTime):
            for member, (field_name, _) in CALENDAR_FIELDS.items():
                yield f"{ref}.{member}", getattr(value, field_name)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and self._is_timestamp(ref):
            yield ref, datetime.fromtimestamp(value, UTC)
        else:
            yield ref, value

    def _attribute(self, ref: str) -> tuple[str, AttributeType] | None:
        owner, path = split_owner(ref)
        ln = self._lns.get(owner)
        if ln is None:
            return None
        key = (id(ln.type), path)  # types are shared by many LNs and live as long as the document
        if key not in self._attributes:
            self._attributes[key] = attribute_at(ln.type, path)
        return self._attributes[key]

    def _is_timestamp(self, ref: str) -> bool:
        found = self._attribute(ref)
        return found is not None and found[1].btype == "Timestamp"

    def _holds_loaded_value(self, ref: str, value: Scalar) -> bool:
        """Whether `ref` is a setting (FC SP: no q, no t) that still holds its value from the SCL file.

        The served model starts with those values, so a start-up mirror can leave them alone: at 100
        devices that is some 500,000 of them.
        """
        found = self._attribute(ref)
        if found is None or found[0] != "SP":
            return False
        owner, path = split_owner(ref)
        loaded = self._lns[owner].values  # the LN's own DAI values, else the type's Val
        initial: Scalar | None = loaded[path] if path in loaded else found[1].default
        if initial is None:  # no Val in the file: libiec61850 starts the attribute at its type's zero
            initial = _ZEROS.get(type(value))
        return type(initial) is type(value) and initial == value
