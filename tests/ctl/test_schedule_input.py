"""`relevent-ctl write` input: start times, values per schedule kind, JSON and CSV schedule files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relevent.ctl.errors import UsageError
from relevent.ctl.schedule_input import ScheduleInput, load_file, parse_start, parse_values, typed_value
from relevent.scheduler.spec import ValueCdc

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("+30s", NOW + timedelta(seconds=30)),
        ("+30", NOW + timedelta(seconds=30)),
        ("+1.5m", NOW + timedelta(seconds=90)),
        ("+2h", NOW + timedelta(hours=2)),
        ("+1d", NOW + timedelta(days=1)),
        ("2026-03-01T13:00:00Z", datetime(2026, 3, 1, 13, tzinfo=UTC)),
        ("2026-03-01T14:00:00+01:00", datetime(2026, 3, 1, 13, tzinfo=UTC)),
    ],
)
def test_start_times(text: str, expected: datetime) -> None:
    assert parse_start(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "why"), [("2026-03-01T13:00:00", "UTC offset"), ("soon", "ISO 8601"), ("+5x", "ISO 8601")]
)
def test_a_start_time_without_offset_or_form_is_a_usage_error(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_start(text, NOW)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (ValueCdc.ASG, "100.5", 100.5),
        (ValueCdc.ASG, 7, 7.0),
        (ValueCdc.SPG, "true", True),
        (ValueCdc.SPG, "0", False),
        (ValueCdc.SPG, False, False),
        (ValueCdc.ING, "42", 42),
        (ValueCdc.ENG, 3.0, 3),
    ],
)
def test_values_take_the_type_of_the_schedule(kind: ValueCdc, raw: str | float, expected: object) -> None:
    value = typed_value(kind, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (ValueCdc.ASG, "abc"),
        (ValueCdc.ASG, "nan"),
        (ValueCdc.ASG, True),
        (ValueCdc.SPG, "2"),
        (ValueCdc.ING, "1.5"),
    ],
)
def test_a_value_that_does_not_fit_is_a_usage_error(kind: ValueCdc, raw: str | bool) -> None:
    with pytest.raises(UsageError):
        typed_value(kind, raw)


def test_values_on_the_command_line() -> None:
    assert parse_values("100, 200.5,0") == ("100", "200.5", "0")
    with pytest.raises(UsageError, match="empty"):
        parse_values("1,,2")


def test_a_json_file_with_every_key(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"values": [1, 2.5], "interval": 900, "prio": 50, "start": "+1h", "enable": true}')
    assert load_file(path, NOW) == ScheduleInput((1, 2.5), 900, 50, NOW + timedelta(hours=1), enable=True)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"values": []}', "non-empty list"),
        ('{"values": [1], "interval": 1.5}', "whole number"),
        ('{"values": [1], "prio": true}', "whole number"),
        ('{"values": [1], "enable": "yes"}', "true or false"),
        ('{"values": [1], "colour": "red"}', "unknown keys"),
        ("[1, 2]", "JSON object"),
        ("{", "invalid JSON"),
    ],
)
def test_a_bad_json_file_is_a_usage_error(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=why):
        load_file(path, NOW)


def test_a_csv_file_with_times_gives_start_and_interval(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "time,value\n2026-03-01T13:00:00Z,100\n2026-03-01T13:15:00Z,200\n2026-03-01T13:30:00Z,150\n"
    )
    assert load_file(path, NOW) == ScheduleInput(
        ("100", "200", "150"), interval=900, start=datetime(2026, 3, 1, 13, tzinfo=UTC)
    )


def test_a_csv_file_of_values_only(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("value\n1\n0\n")
    assert load_file(path, NOW) == ScheduleInput(("1", "0"))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (
            "time,value\n2026-03-01T13:00:00Z,1\n2026-03-01T13:15:00Z,2\n2026-03-01T13:20:00Z,3\n",
            "equally spaced",
        ),
        ("time,value\n2026-03-01T13:00:00Z,1\n2026-03-01T12:00:00Z,2\n", "equally spaced"),
        ("when,value\n", "at least one entry"),
        ("power\n1\n", "'value' column"),
        ("value\n1\n\n,\n", "no value"),
    ],
)
def test_a_bad_csv_file_is_a_usage_error(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(content)
    with pytest.raises(UsageError, match=why):
        load_file(path, NOW)


def test_other_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.json or \.csv"):
        load_file(tmp_path / "s.txt", NOW)
    with pytest.raises(UsageError, match="No such file"):
        load_file(tmp_path / "missing.json", NOW)


def test_command_line_options_win_over_the_file() -> None:
    from_file = ScheduleInput(("1",), interval=60, prio=5, enable=True)
    given = ScheduleInput(prio=9).over(from_file)
    assert given == ScheduleInput(("1",), interval=60, prio=9, enable=True)
