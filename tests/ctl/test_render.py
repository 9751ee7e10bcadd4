"""relevent-ctl's report lines name each member as a dotted reference, whatever depth the data set has."""

from __future__ import annotations

from datetime import UTC, datetime

from relevent.ctl.render import report_json, report_lines
from relevent.ctl.reports import Report, ReportEntry

STAMP = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_member_down_to_an_attribute_is_dotted_all_the_way() -> None:
    entries = (
        ReportEntry("DER_Scheduler_Control/ActPow_FSCH01$ST$SchdSt", (4, 0, STAMP), "data-change"),
        ReportEntry("DER_Scheduler_Control/ActPow_FSCC1$MX$ValMV$mag", ((12.5,), 0, STAMP), "data-change"),
    )
    report = Report("urcbSched01", 7, STAMP.timestamp(), entries)
    refs = [line.split()[1] for line in report_lines(report)]
    assert refs == [
        "DER_Scheduler_Control/ActPow_FSCH01.SchdSt",
        "DER_Scheduler_Control/ActPow_FSCC1.ValMV.mag",
    ]
    assert [e["ref"] for e in report_json(report)["entries"]] == refs
