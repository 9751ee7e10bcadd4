"""Device registry from the SCL model, plan merging, clamping, topics, broker URLs and payload schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from relevent.config import DeviceEntry, MqttSection, SclSection
from relevent.errors import ConfigError
from relevent.lan.driver import DeviceFields as Fields
from relevent.lan.fields import device_fields
from relevent.lan.mqtt import schema
from relevent.lan.mqtt.config import BrokerConfig
from relevent.lan.mqtt.topics import Inbound, Topics
from relevent.lan.plan import plan_steps
from relevent.lan.registry import Device, build_registry
from relevent.scheduler.forecast import ForecastPoint
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.model import SclDocument
from relevent.scl.parse import load
from tests.conftest import REPO
from tests.mqtt.conftest import ACT, MAX, ONOFF


def _entry(device_id: str, device_class: str = "battery", **fields: Any) -> DeviceEntry:
    """A `[[devices]]` entry as the configuration reads it."""
    return DeviceEntry.model_validate({"id": device_id, "class": device_class, **fields})


@pytest.fixture(scope="module")
def model() -> SclDocument:
    return load(SclSection().path)


def test_without_device_entries_each_controller_ld_is_one_device(model: SclDocument) -> None:
    registry = build_registry(model, ())
    [device] = registry
    assert device.id == "DER_Scheduler_Control"
    assert dict(device.bindings) == {"w_set": ACT, "w_max_lim": MAX, "on": ONOFF}
    assert device.mmxu_ref == "DER_Scheduler_Control/MMXU1"
    assert device.protocol == "mqtt"
    assert registry.followers(MAX) == ((device, "w_max_lim"),)


def test_device_entries_accept_both_reference_forms(model: SclDocument) -> None:
    entries = [
        _entry("bat1", "battery", w_set="@Control/ActPow_FSCC1", on=ONOFF, mmxu="@Control/MMXU1"),
        _entry("evse1", "ev_charger", w_max_lim="@Control/ActPow_FSCC1"),
    ]
    registry = build_registry(model, entries)
    bat1, _ = registry
    assert dict(bat1.bindings) == {"w_set": ACT, "on": ONOFF}
    assert bat1.mmxu_ref == "DER_Scheduler_Control/MMXU1"
    assert bat1.protocol == "mqtt"
    assert [(d.id, f) for d, f in registry.followers(ACT)] == [("bat1", "w_set"), ("evse1", "w_max_lim")]
    assert registry.controllers == (ACT, ONOFF)


def test_bad_device_entries_are_reported_together(model: SclDocument) -> None:
    entries = [
        _entry("bat1", w_set="@Control/OnOff_FSCC1", on="@Control/Nope_FSCC1", mmxu="@Control/ActPow_FSCC1"),
        _entry("bat2", w_min=10, w_max=-10),
    ]
    with pytest.raises(ConfigError) as exc:
        build_registry(model, entries)
    message = str(exc.value)
    for part in (
        "has no ValMV output",
        "names no logical node",
        "expected MMXU",
        "w_min 10.0 is above w_max -10.0",  # as `[[devices]]` reads them: floats
    ):
        assert part in message
    with pytest.raises(ConfigError, match="configured twice"):
        build_registry(model, [_entry("bat1"), _entry("bat1")])


def test_clamping() -> None:
    device = Device("d", None, {}, w_min=-3000.0, w_max=2000.0)
    assert device_fields(device, {"w_set": 5000.0, "w_max_lim": -1.0, "on": 1}) == Fields(2000.0, 0.0, True)
    assert device_fields(device, {"w_set": -5000.0, "w_max_lim": 9999.0}) == Fields(-3000.0, 3000.0, None)
    assert device_fields(Device("d", None, {}), {"w_max_lim": 9999.0}) == Fields(None, 9999.0, None)


def test_plan_steps_merge_controllers_and_equal_steps() -> None:
    device = Device("d", None, {"w_set": ACT, "on": ONOFF})
    forecasts = {
        ACT: [
            ForecastPoint(0, 1.0, "s", 1),
            ForecastPoint(10, 2.0, "s", 1),
            ForecastPoint(30, None, None, None),
        ],
        ONOFF: [ForecastPoint(5, True, "o", 1), ForecastPoint(10, True, "o", 2)],
    }
    assert plan_steps(device, forecasts) == (  # from the later forecast's start: no field null before it
        (5, Fields(1.0, None, True)),
        (10, Fields(2.0, None, True)),
        (30, Fields(None, None, True)),
    )


def test_topics_parse_only_inbound_device_topics() -> None:
    topics = Topics("relevent/v1/", "gw1")
    assert topics.parse_inbound("relevent/v1/gw1/dev/bat1/ctl/ack") == ("bat1", Inbound.ACK)
    assert topics.parse_inbound("relevent/v1/gw1/dev/bat1/ctl/set") is None
    assert topics.parse_inbound("relevent/v1/gw2/dev/bat1/meas") is None
    assert topics.parse_inbound("relevent/v1/gw1/dev//meas") is None


def _broker(url: str, **options: Any) -> BrokerConfig:
    return BrokerConfig.from_section(MqttSection(url=url, **options))


def test_broker_url() -> None:
    broker = _broker("mqtts://broker.local")
    assert (broker.host, broker.port, broker.tls) == ("broker.local", 8883, True)
    broker = _broker("mqtt://10.0.0.2:1884/")
    assert (broker.host, broker.port, broker.tls) == ("10.0.0.2", 1884, False)
    assert _broker("mqtt://h", password="secret").password == "secret"
    assert "secret" not in repr(_broker("mqtt://h", password="secret"))
    with pytest.raises(ConfigError, match="broker URL must be"):
        _broker("mqtt://h:99999")  # the section's pattern lets it through: a port out of range


def test_committed_schemas_equal_the_generated_ones() -> None:
    directory = REPO / "docs" / "schemas"
    committed = {path.name: path.read_text(encoding="utf-8") for path in directory.glob("*.json")}
    assert committed == schema.render(), "run: python -m relevent.lan.mqtt.schema docs/schemas"


def test_schema_writer(tmp_path: Path) -> None:
    written = schema.write(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(schema.render())


@pytest.mark.parametrize("option", ["--help", "-h", "--bogus"])
def test_schema_tool_takes_options_as_options_not_as_a_directory(tmp_path: Path, option: str) -> None:
    tool = [sys.executable, "-m", "relevent.lan.mqtt.schema", option]
    result = subprocess.run(tool, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == (0 if option != "--bogus" else 2), result.stderr
    assert "usage:" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_schema_tool_writes_into_the_directory_it_is_given(tmp_path: Path) -> None:
    tool = [sys.executable, "-m", "relevent.lan.mqtt.schema", "out"]
    result = subprocess.run(tool, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(schema.render())


def test_powers_are_scaled_from_the_controllers_units_to_watts() -> None:
    device = next(iter(build_registry(load(DEFAULT_MODEL), [])))
    assert dict(device.scales) == {"w_set": 1000.0, "w_max_lim": 1000.0, "on": 1.0}  # kW outputs
    fields = device_fields(device, {"w_set": 2.83, "w_max_lim": 11.0, "on": True})
    assert (fields.w_set, fields.w_max_lim, fields.on) == (2830.0, 11000.0, True)


def test_a_device_entry_names_its_protocol_and_an_unknown_one_is_refused(model: SclDocument) -> None:
    registry = build_registry(model, [_entry("cs-1", "ev_charger", w_max_lim=MAX, protocol="ocpp"),
                                      _entry("bat1", w_set=ACT)])  # fmt: skip
    assert [(d.id, d.protocol) for d in registry] == [("cs-1", "ocpp"), ("bat1", "mqtt")]
    assert [d.id for d in registry.of_protocol("ocpp")] == ["cs-1"]
    with pytest.raises(ValidationError, match="protocol"):
        _entry("x", protocol="bacnet")
