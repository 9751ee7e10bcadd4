"""The daemon as a subprocess: start, log, stop on signals; clean one-paragraph errors."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from relevent.scl.generate import DEFAULT_MODEL
from tests.conftest import SHIPPED, ReferenceDir
from tests.daemon import NOBODY_URL, GatewayArgs, run_cli, running, taken_port
from tests.mosquitto import Broker
from tests.protocol_sites import iec104, ocpp

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_starts_logs_a_model_summary_and_stops_cleanly(tmp_path: Path, sig: int) -> None:
    with running(GatewayArgs(tmp_path / "state").argv()) as gw:
        started = gw.wait_for("gateway starting")
        gw.wait_for("gateway running")
        assert started["schedules"] == 33
        assert started["controllers"] == 3
        assert started["level"] == "info"
        assert gw.stop(sig) == 0
        gw.wait_for("gateway stopped", timeout=1)
    assert (tmp_path / "state").is_dir()


def test_daemon_serves_a_reference_model_given_with_scl(tmp_path: Path, reference_dir: ReferenceDir) -> None:
    with running(GatewayArgs(tmp_path, scl=reference_dir.model("relevent_minimal")).argv()) as gw:
        assert gw.wait_for("gateway starting")["schedules"] == 3
        assert gw.stop() == 0


def test_bad_scl_exits_non_zero_with_one_paragraph_and_no_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cid"
    broken.write_text('<?xml version="1.0"?>\n<SCL xmlns="http://www.iec.ch/61850/2003/SCL">\n<IED name="X"')
    result = run_cli("--scl", broken, "--state-dir", tmp_path)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"relevent-gw: error: {broken}:3: not well-formed XML")
    assert result.stderr.count("\n") == 1


def test_bad_config_exits_non_zero_naming_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text('[mms]\nport = 70000\nprot = 1\n[mqtt]\npassword = "hunter2"\nurl = "http://x"\n')
    result = run_cli("check-config", "--config", config)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    for fragment in ("mms.port", "mms.prot", "mqtt.url", str(config)):
        assert fragment in result.stderr
    assert "hunter2" not in result.stderr


def test_check_config_validates_and_exits(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(f'[gateway]\nid = "site7"\n[storage]\nstate_dir = "{tmp_path / "s"}"\n')
    result = run_cli("check-config", "--config", config)
    assert result.returncode == 0, result.stderr
    assert "configuration ok" in result.stdout
    assert "33 schedules" in result.stdout


def test_scl_validate_and_generate_round_trip(tmp_path: Path, reference_dir: ReferenceDir) -> None:
    out = tmp_path / "site.cid"
    generated = run_cli("scl", "generate", "-o", out, "--devices", "2", "--functions", "MaxPow,OnOff")
    assert generated.returncode == 0, generated.stderr
    assert "44 schedules" in generated.stdout
    checked = run_cli("scl", "validate", out, "--xsd", reference_dir.xsd)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok" in checked.stdout


def test_scl_validate_reports_schema_errors_with_lines(tmp_path: Path, reference_dir: ReferenceDir) -> None:
    xsd = reference_dir.xsd
    bad = tmp_path / "bad.cid"
    text = reference_dir.model(SHIPPED).read_text(encoding="utf-8-sig")
    bad.write_text(text.replace("<Header ", '<Header bogus="1" ', 1))
    result = run_cli("scl", "validate", bad, "--xsd", xsd)
    assert result.returncode == 1
    assert "bogus" in result.stdout


@pytest.mark.parametrize("schema", [None, "<xs:schema"])
def test_scl_validate_without_a_usable_schema_says_so_in_one_line(tmp_path: Path, schema: str | None) -> None:
    if schema is not None:
        (tmp_path / "SCL.xsd").write_text(schema)
    result = run_cli("scl", "validate", DEFAULT_MODEL, "--xsd", tmp_path)
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"relevent-gw: error: {tmp_path / 'SCL.xsd'}: ")
    assert result.stderr.count("\n") == 1


def _default_model_with(tmp_path: Path, old: str, new: str, *more: tuple[str, str]) -> Path:
    text = DEFAULT_MODEL.read_text(encoding="utf-8")
    for before, after in ((old, new), *more):
        assert before in text
        text = text.replace(before, after)
    (path := tmp_path / "model.cid").write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edits", "fragment"),
    [
        ([('<IED name="DER_Scheduler_"', f'<IED name="{"I" * 150}"')], "is 150 characters, more than the 64"),
        ([('name="PhyHealth" type="ENS_Health"/>', 'name="PhyHealth" type="ENS_Health" count="10000"/>'),
          ('bType="Quality" qchg="true" fc="ST"/>', 'bType="Quality" qchg="true" fc="ST" count="10000"/>')],
         "more than 2000000 attributes"),
    ],
)
def test_check_config_and_run_refuse_a_model_mms_cannot_serve_alike(
    tmp_path: Path, edits: list[tuple[str, str]], fragment: str
) -> None:
    """Issue 16 item 9: such models passed check-config; run died of a KeyError or grew past 897 MiB."""
    scl = _default_model_with(tmp_path, *edits[0], *edits[1:])
    args = GatewayArgs(tmp_path / "state", scl=scl).argv()
    for verb in ("check-config", "run"):
        result = run_cli(verb, *args, timeout=30)
        assert result.returncode == 78, (verb, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"relevent-gw: error: {scl}:"), result.stderr
        assert fragment in result.stderr


def test_generate_rejects_out_of_range_options(tmp_path: Path) -> None:
    result = run_cli("scl", "generate", "-o", tmp_path / "x.cid", "--entries", "0")
    assert result.returncode == 2
    assert "entries" in result.stderr
    assert not (tmp_path / "x.cid").exists()


def test_an_unreadable_schedule_store_stops_start_up_cleanly_before_anything_is_served(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "scheduler.sqlite3").write_bytes(b"not a database" * 100)
    result = run_cli(*GatewayArgs(state).argv())
    assert result.returncode == 78  # the operator must fix the state directory first
    assert "Traceback" not in result.stderr
    assert "scheduler.sqlite3: file is not a database" in result.stderr


def test_the_devices_are_served_while_the_mms_server_is_still_being_created(
    tmp_path: Path, broker: Broker
) -> None:
    site = tmp_path / "site.cid"
    assert run_cli("scl", "generate", "-o", site, "--devices", "40").returncode == 0
    args = GatewayArgs(tmp_path / "state", scl=site, mqtt_url=broker.url)
    with running(args.argv()) as gw:
        gw.wait_for("gateway running", timeout=120)
        events = [line.get("event") for line in gw.lines]
        # 40 devices: libiec61850 needs about a second for the MMS server; MQTT connects in milliseconds
        assert events.index("mqtt connected") < events.index("mms server listening")
        assert gw.stop() == 0


def test_a_taken_mms_port_ends_start_up_with_one_clear_error(tmp_path: Path) -> None:
    with taken_port() as port:
        result = run_cli(*GatewayArgs(tmp_path / "state", mms_port=port).argv())
    assert result.returncode == 69  # EX_UNAVAILABLE: systemd may retry
    assert "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port} for MMS" in result.stderr


@pytest.mark.parametrize(("what", "site"), [("OCPP", ocpp), ("IEC 104", iec104)], ids=["ocpp", "iec104"])
def test_a_taken_device_or_scada_port_ends_start_up_with_one_clear_error(
    tmp_path: Path, what: str, site: Callable[[int], str]
) -> None:
    config = tmp_path / "gw.toml"
    with taken_port() as port:
        config.write_text(site(port))
        result = run_cli(*GatewayArgs(tmp_path / "state", extra=("--config", str(config))).argv())
    assert result.returncode == 69, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port} for {what}" in result.stderr


def test_the_default_broker_url_of_a_test_gateway_refuses_connections() -> None:
    port = int(NOBODY_URL.rsplit(":", 1)[1])
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.connect(("127.0.0.1", port))
