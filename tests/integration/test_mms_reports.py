"""Reports of controller output changes reach both independent clients (spec section 5, auto data set)."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from open61850.data import FloatData, IntData, TimestampData
from open61850.mms import InformationReport, ObjectName, decode_report, is_report, operate, rcb

from relevent.ctl.readings import reading
from relevent.ctl.reports import Report
from tests.integration.mms_gateway import LD, gateway, iec_client, open_client, poll

OUTPUT = f"{LD}/ActPow_FSCC1$MX$ValMV"


class _OpenReports:
    """Decoded open61850 reports, collected from its receive thread."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, message: InformationReport) -> None:
        if is_report(message):
            with self._lock:
                self.received.append(decode_report(message))

    def outputs(self) -> list[tuple[Any, datetime]]:
        """(value, t) of every reported ValMV of the ActPow controller."""
        with self._lock:
            entries = [e for r in self.received for e in r.entries if e.reference == OUTPUT]
        members = [e.value.members for e in entries]
        return [(m[0].members[0].value, m[2].value) for m in members]


def test_both_clients_receive_a_report_for_every_output_change(tmp_path: Path) -> None:
    opened = _OpenReports()
    with (
        gateway(tmp_path) as (_, args),
        iec_client(args.mms_port) as iec,
        open_client(args.mms_port, opened) as client,
    ):
        assert iec.call_blocking("subscribe", LD) == [f"{LD}/LLN0.RP.urcbSched01"]
        settings = rcb.RcbSettings(trg_ops=None, opt_flds=None, intg_pd_ms=None)
        rcb.enable(client, ObjectName("LLN0$RP$urcbSched02", LD), settings)

        start = datetime.fromtimestamp(math.ceil(time.time() + 1.5), UTC)
        writes: list[tuple[str, FloatData | IntData | TimestampData]] = [
            ("ActPow_FSCH06$SP$ValASG001$setMag$f", FloatData(5.0)),
            ("ActPow_FSCH06$SP$ValASG002$setMag$f", FloatData(6.0)),
            ("ActPow_FSCH06$SP$NumEntr$setVal", IntData(2)),
            ("ActPow_FSCH06$SP$SchdIntv$setVal", IntData(1)),
            ("ActPow_FSCH06$SP$SchdPrio$setVal", IntData(30)),
            ("ActPow_FSCH06$SP$StrTm01$setTm", TimestampData(start)),
        ]
        for item, value in writes:
            client.write(ObjectName(item, LD), value)
        operate(client, f"{LD}/ActPow_FSCH06.EnaReq", True)

        expected = [(5.0, start), (6.0, start + timedelta(seconds=1)), (0.0, start + timedelta(seconds=2))]
        received: list[Report] = []

        def iec_outputs() -> list[tuple[Any, datetime | None]]:
            received.extend(iec.call_blocking("take_reports"))
            entries = [e for r in received for e in r.entries if e.ref == OUTPUT]
            return [(item.value, item.t) for e in entries if (item := reading(e.value))]

        seen = poll(iec_outputs, lambda seen: seen[-3:] == expected, 6, "libiec61850 reports")
        assert seen[0][0] == 0.0  # the general interrogation: the reserve's value
        assert seen[1:] == expected
        assert (
            poll(opened.outputs, lambda seen: seen[-3:] == expected, 2, "open61850 reports")[-3:] == expected
        )
        reasons = {e.reason for r in received for e in r.entries if e.ref == OUTPUT}
        assert reasons == {"general-interrogation", "data-update"}
