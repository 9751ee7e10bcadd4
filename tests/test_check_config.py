"""`relevent-gw check-config` as a new operator meets it: each problem with its origin, a readable answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relevent.scl.generate import DEFAULT_MODEL
from tests.daemon import run_cli

pytestmark = pytest.mark.slow


def _check(tmp_path: Path, text: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    config = tmp_path / "gateway.toml"
    config.write_text(text)
    result = run_cli("check-config", "--config", config, "--state-dir", tmp_path / "state", *args, env=env)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def test_an_unknown_key_names_its_line_and_the_key_meant(tmp_path: Path) -> None:
    text = '[gateway]\nid = "gw1"\n\n[mqtt]\nroot = "x"\nheartbaet_s = 30\n[mqqt]\n'
    code, _, stderr = _check(tmp_path, text)
    assert code == 78
    config = tmp_path / "gateway.toml"
    assert f"{config}:6: mqtt.heartbaet_s: unknown key (did you mean heartbeat_s?)" in stderr
    assert f"{config}:7: mqqt: unknown key (did you mean mqtt?)" in stderr


def test_an_unknown_key_of_the_second_device_names_its_line(tmp_path: Path) -> None:
    device = '[[devices]]\nid = "{0}"\nclass = "battery"\n'
    code, _, stderr = _check(tmp_path, device.format("a") + device.format("b") + "w_mx = 5000\n")
    assert code == 78
    assert f"{tmp_path / 'gateway.toml'}:7: devices.1.w_mx: unknown key (did you mean w_max?)" in stderr


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ('[mms]\nport = "102"\n', 2, "mms.port"),
        ('[mms]\ntls = "false"\n', 2, "mms.tls"),
        ('[mqtt]\nroot = "r"\nkeepalive_s = "30"\n', 3, "mqtt.keepalive_s"),
        ("[mms]\nport = 102.0\n", 2, "mms.port"),
    ],
)
def test_toml_values_must_have_their_keys_type(tmp_path: Path, text: str, line: int, key: str) -> None:
    code, _, stderr = _check(tmp_path, text)
    assert code == 78
    assert f"{tmp_path / 'gateway.toml'}:{line}: {key}: Input should be a valid" in stderr


def test_environment_values_are_text_and_converted(tmp_path: Path) -> None:
    env = {"RELEVENT_MMS__PORT": "10102", "RELEVENT_MMS__TLS": "false", "RELEVENT_MQTT__HEARTBEAT_S": "3"}
    code, stdout, stderr = _check(tmp_path, "[mms]\nport = 102\n", "--json", env=env)
    assert code == 0, stderr
    assert json.loads(stdout)["mms"]["port"] == 10102


def test_an_environment_error_names_the_variable_not_the_file(tmp_path: Path) -> None:
    code, _, stderr = _check(tmp_path, "[mms]\nport = 102\n", env={"RELEVENT_MMS__PORT": "abc"})
    assert code == 78
    assert "environment RELEVENT_MMS__PORT: mms.port: Input should be a valid integer" in stderr
    assert "gateway.toml" not in stderr


def test_a_command_line_error_names_the_command_line(tmp_path: Path) -> None:
    code, _, stderr = _check(tmp_path, "[mms]\nport = 102\n", "--mms-port", "70000")
    assert code == 78
    assert "command line: mms.port: Input should be less than or equal to 65535" in stderr
    assert "gateway.toml" not in stderr


def test_success_is_a_short_summary_for_a_person(tmp_path: Path) -> None:
    text = (
        '[gateway]\nid = "site7"\n[mqtt]\nurl = "mqtt://gw:hunter2@10.0.0.5:1883"\n'
        '[[devices]]\nid = "bat1"\nclass = "battery"\nw_set = "@Control/ActPow_FSCC1"\n'
    )
    code, stdout, stderr = _check(tmp_path, text)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == f"configuration ok: {tmp_path / 'gateway.toml'}"
    assert "  model    IED DER_Scheduler_: 1 logical device, 33 schedules, 3 controllers" in stdout
    assert "  mqtt     mqtt://10.0.0.5:1883, MQTT 5, topics relevent/v1/site7/" in stdout
    assert "  devices  1: bat1 (battery)" in stdout
    assert "{" not in stdout
    assert "hunter2" not in stdout
    assert len(lines) <= 8


def test_json_summary_for_scripts(tmp_path: Path) -> None:
    code, stdout, stderr = _check(tmp_path, '[[actors]]\nname = "dso"\npassword = "hunter2"\n', "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["model"]["schedules"] == 33
    assert summary["model"]["scl"] == str(DEFAULT_MODEL)
    assert summary["actors"] == ["dso"]
    assert summary["config"] == str(tmp_path / "gateway.toml")
    assert "hunter2" not in stdout


def test_an_scl_file_without_an_ied_fails_validate_and_check_config_alike(tmp_path: Path) -> None:
    empty = tmp_path / "empty.scd"
    empty.write_text(
        '<?xml version="1.0"?>\n<SCL xmlns="http://www.iec.ch/61850/2003/SCL" version="2007" revision="B">\n'
        '<Header id="x"/>\n</SCL>\n'
    )
    expected = f"relevent-gw: error: {empty}: the SCL file has no IED\n"
    validated = run_cli("scl", "validate", empty)
    assert (validated.returncode, validated.stderr) == (78, expected)
    code, _, stderr = _check(tmp_path, f'[scl]\npath = "{empty}"\n')
    assert (code, stderr) == (78, expected)


def test_a_slot_of_two_actors_is_refused(tmp_path: Path) -> None:
    actor = '[[actors]]\nname = "{0}"\nband = [{1}, {2}]\nslots = ["@Control/MaxPow_FSCH03"]\n'
    code, _, stderr = _check(tmp_path, actor.format("dso", 60, 69) + actor.format("cpo", 20, 39))
    assert code == 78
    assert "[[actors]] cpo: slot '@Control/MaxPow_FSCH03' is also a slot of dso" in stderr
