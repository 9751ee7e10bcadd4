"""The status page's device view: payloads kept as objects, rendered as the device contract's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from relevent.lan.mqtt.payloads import Command, CommandSources, Measurement, Source
from relevent.lan.mqtt.view import DeviceView

AT = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_device_view_renders_the_last_command_and_measurement_as_sent_and_received() -> None:
    view = DeviceView("bat1", "battery")
    assert view.as_json()["command"] is None
    assert view.as_json()["measurement"] is None
    view.command = Command(
        id=UUID(int=7), seq=3, ts=AT, valid_until=AT, w_set=2500.0, w_max_lim=None, on=True,
        src=CommandSources(w_set=Source(schedule="LD/ActPow_FSCH01", prio=42)),
    )  # fmt: skip
    view.measurement = Measurement(ts=AT, w=-1200.5)
    shown = view.as_json()
    assert shown["command"] == {
        "id": "00000000-0000-0000-0000-000000000007", "seq": 3, "ts": "2026-11-27T01:00:00.000Z",
        "valid_until": "2026-11-27T01:00:00.000Z", "w_set": 2500.0, "w_max_lim": None, "on": True,
        "src": {"w_set": {"schedule": "LD/ActPow_FSCH01", "prio": 42}, "w_max_lim": None, "on": None},
    }  # fmt: skip
    assert shown["measurement"] == {"ts": "2026-11-27T01:00:00Z", "w": -1200.5}
