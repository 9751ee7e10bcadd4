"""Report subscriptions: enable a free unbuffered RCB and hand every report over as plain data.

libiec61850 calls the report handler on its receive thread; the handler only decodes and hands over.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyiec61850.pyiec61850 as iec

from relevent.ctl.client import MmsClient, Value, decode, error_code
from relevent.ctl.errors import Refusal, RefusedError

_REASONS = {
    iec.IEC61850_REASON_DATA_CHANGE: "data-change",
    iec.IEC61850_REASON_QUALITY_CHANGE: "quality-change",
    iec.IEC61850_REASON_DATA_UPDATE: "data-update",
    iec.IEC61850_REASON_INTEGRITY: "integrity",
    iec.IEC61850_REASON_GI: "general-interrogation",
}
_INSTANCE = re.compile(r"^(.*?)(\d{2})$")  # urcbSched01 -> family urcbSched, instance 01


@dataclass(frozen=True)
class ReportEntry:
    """One data set member included in a report: `ref` is `LD/LN$FC$DO`, `value` its decoded structure."""

    ref: str
    value: Value
    reason: str


@dataclass(frozen=True)
class Report:
    """A received report; `received` is the local wall time at which the handler ran."""

    rcb: str
    seq_num: int
    received: float
    entries: tuple[ReportEntry, ...]


ReportCallback = Callable[[Report], None]


def decode_report(report: Any, received: float) -> Report:
    """A library-owned ClientReport as a `Report` (members not included are left out)."""
    values = iec.ClientReport_getDataSetValues(report)
    entries = []
    for i in range(iec.MmsValue_getArraySize(values)):
        reason = iec.ClientReport_getReasonForInclusion(report, i)
        if reason == iec.IEC61850_REASON_NOT_INCLUDED:
            continue
        entries.append(
            ReportEntry(
                str(iec.ClientReport_getDataReference(report, i)),
                decode(iec.MmsValue_getElement(values, i)),
                _REASONS.get(reason, "unknown"),
            )
        )
    rcb = str(iec.ClientReport_getRcbReference(report))
    return Report(rcb, int(iec.ClientReport_getSeqNum(report)), received, tuple(entries))


class _Handler(iec.RCBHandler):  # type: ignore[misc]  # a SWIG director class (Any to mypy)
    def __init__(self, deliver: ReportCallback) -> None:
        super().__init__()
        self._deliver = deliver

    def trigger(self) -> None:
        received = time.time()
        try:
            self._deliver(decode_report(self._client_report, received))
        except BaseException:  # noqa: BLE001 - an exception escaping a director aborts the process
            traceback.print_exc(file=sys.stderr)


class ReportSubscription:
    """Every report of one LD's automatic scheduling data sets (`dsSched`, `dsSchedB`, ...).

    For each RCB family in LLN0 (`urcbSched01..05`, ...) the first instance no other client holds is
    enabled with a general interrogation, so the first reports carry every member's current value.

    Make no further requests on the connection once reports flow: libiec61850 runs the report handler on
    its receive thread, which needs the GIL that a thread waiting in a SWIG request holds, so the request
    waits for its timeout. (`watch` only waits for reports; tests and benchmarks write on a second client.)
    """

    def __init__(self, client: MmsClient, ld: str, on_report: ReportCallback) -> None:
        self._client = client
        self._keep: list[Any] = []  # subscribers and handlers must live as long as the connection
        self.rcbs: list[str] = []
        lln0 = f"{ld}/LLN0"
        families: dict[str, list[str]] = {}
        for name in client.report_blocks(lln0):
            match = _INSTANCE.match(name)
            families.setdefault(match.group(1) if match else name, []).append(name)
        for family, names in sorted(families.items()):
            ref = next((ref for name in names if self._enable(ref := f"{lln0}.RP.{name}", on_report)), None)
            if ref is None:
                busy = error_code(iec.IED_ERROR_TEMPORARILY_UNAVAILABLE)
                raise RefusedError(Refusal(f"{lln0}.RP.{family}", busy))
            self.rcbs.append(ref)

    def _enable(self, ref: str, on_report: ReportCallback) -> bool:
        con = self._client.con
        rcb, err = iec.IedConnection_getRCBValues(con, ref, iec.ClientReportControlBlock_create(ref))
        self._client.check(ref, err)
        try:
            if iec.ClientReportControlBlock_getRptEna(rcb):
                return False  # another client's
            handler = _Handler(on_report)
            subscriber = iec.RCBSubscriber()
            subscriber.setIedConnection(con)
            subscriber.setRcbReference(ref)
            subscriber.setRcbRptId(iec.ClientReportControlBlock_getRptId(rcb))
            subscriber.setEventHandler(handler.__disown__())
            if not subscriber.subscribe():
                return False
            enable = True  # the C calls take plain booleans
            iec.ClientReportControlBlock_setRptEna(rcb, enable)
            iec.ClientReportControlBlock_setGI(rcb, enable)
            elements = iec.RCB_ELEMENT_RPT_ENA | iec.RCB_ELEMENT_GI
            _, err = iec.IedConnection_setRCBValues(con, rcb, elements, enable)
            if err == iec.IED_ERROR_TEMPORARILY_UNAVAILABLE:  # reserved by another client meanwhile
                return False
            self._client.check(ref, err)
            self._keep += [handler, subscriber]
            return True
        finally:
            iec.ClientReportControlBlock_destroy(rcb)
