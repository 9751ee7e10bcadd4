"""Issue #7 end to end: the real gateway with MMS over TLS, password actors and their rights, the audit
trail and its tamper check, and secrets that appear nowhere (log, metrics, status, audit, errors)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyiec61850.pyiec61850 as iec
import pytest

from relevent.ctl.client import ClientSecurity
from relevent.obs.audit_store import AUDIT_FILE
from tests.daemon import Daemon, GatewayArgs, run_cli, running
from tests.db import opened
from tests.integration.gateway import gateway
from tests.mms.iec_client import IecClient
from tests.mosquitto import PASSWORDS, Broker, mqtt_client
from tests.pki import Pki

LD = "DER_Scheduler_Control"
PRIO = f"{LD}/MaxPow_FSCH01.SchdPrio.setVal"
OTHER_FUNCTION = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
DSO_PASSWORD = "dso-Secret-1f3a"
MARKET_PASSWORD = "market-Secret-77c2"
SECRETS = (DSO_PASSWORD, MARKET_PASSWORD, PASSWORDS["gw"])


def _config(pki: Pki, market_password_file: Path) -> str:
    return f"""
[mms]
tls = true
ca_file = "{pki.ca}"
cert_file = "{pki.server.cert}"
key_file = "{pki.server.key}"
authentication = "password"

[mqtt]
username = "gw"

[[actors]]
name = "dso"
password = "{DSO_PASSWORD}"

[[actors]]
name = "market"
password_file = "{market_password_file}"

[[policy]]
actor = "dso"
schedules = ["@Control/*"]
controllers = ["@Control/*"]
max_priority = 200

[[policy]]
actor = "market"
schedules = ["@Control/MaxPow_FSCH0[1-3]"]
max_priority = 50
"""


@pytest.fixture
def secured(tmp_path: Path, pki: Pki, secure_broker: Broker) -> Iterator[tuple[Daemon, GatewayArgs, int]]:
    """The gateway with TLS, password actors and rights, connected to a broker with its own password."""
    password_file = tmp_path / "market.password"
    password_file.write_text(f"{MARKET_PASSWORD}\n")
    toml = tmp_path / "gw.toml"
    toml.write_text(_config(pki, password_file))
    args = GatewayArgs(tmp_path / "state", mqtt_url=secure_broker.url, extra=("--config", str(toml)))
    with running(args.argv(), env={"RELEVENT_MQTT__PASSWORD": PASSWORDS["gw"]}) as daemon:
        http_port = daemon.wait_for("http listening")["port"]
        daemon.wait_for("gateway running", 30)
        daemon.wait_for("mqtt connected")
        yield daemon, args, http_port


def _as(pki: Pki, password: str) -> ClientSecurity:
    return ClientSecurity(pki.ca, pki.scada.cert, pki.scada.key, password)


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return str(reply.read().decode())


def test_rights_audit_tamper_and_secrets(
    secured: tuple[Daemon, GatewayArgs, int], pki: Pki, tmp_path: Path
) -> None:
    daemon, args, http_port = secured
    client = IecClient()
    try:
        client.call_blocking("connect", "127.0.0.1", args.mms_port, _as(pki, MARKET_PASSWORD))
        assert client.call_blocking("write", PRIO, "SP", 50) == iec.IED_ERROR_OK
        assert client.call_blocking("write", PRIO, "SP", 51) == iec.IED_ERROR_ACCESS_DENIED  # beyond its band
        assert client.call_blocking("write", OTHER_FUNCTION, "SP", 5) == iec.IED_ERROR_ACCESS_DENIED
        assert client.call_blocking("read", PRIO, "SP") == (50, 0)  # unchanged by the refused write
        client.call_blocking("connect", "127.0.0.1", args.mms_port, _as(pki, DSO_PASSWORD))
        assert client.call_blocking("write", PRIO, "SP", 200) == iec.IED_ERROR_OK
        with pytest.raises(RuntimeError, match="UnreachableError"):
            client.call_blocking("connect", "127.0.0.1", args.mms_port, _as(pki, "not-the-password"))
        client.call_blocking("close")
    finally:
        client.close()
    daemon.wait_for("mms association refused")
    exposed = [_get(http_port, "/metrics"), _get(http_port, "/api/status")]
    assert daemon.stop() == 0
    exposed += [repr(daemon.lines), daemon.stderr.decode(errors="replace")]  # whatever reaches stderr too

    trail = run_cli("audit", "show", "--state-dir", args.state_dir)
    assert trail.returncode == 0, trail.stderr
    rows = trail.stdout.splitlines()
    actors_and_results = [(row.split()[2], row.split(" -> ")[1].split()[1]) for row in rows]
    assert actors_and_results == [
        ("market", "accepted"), ("market", "access_denied"), ("market", "access_denied"), ("dso", "accepted"),
    ]  # fmt: skip
    assert f"{PRIO} 50 -> 51 access_denied (actor 'market' may not use priority 51" in rows[1]
    exposed.append(trail.stdout)
    for text in exposed:
        for secret in SECRETS:
            assert secret not in text

    assert run_cli("audit", "verify", "--state-dir", args.state_dir).returncode == 0
    with opened(args.state_dir / AUDIT_FILE) as db:  # cover the refusal up
        db.execute("UPDATE audit SET result = 'accepted' WHERE seq = 2")
    tampered = run_cli("audit", "verify", "--state-dir", args.state_dir)
    assert tampered.returncode == 1
    assert "row 2 was modified" in tampered.stderr


@pytest.mark.parametrize(
    "broken",
    [
        '[mms]\nauthentication = "certificate"\n',  # a semantic error next to the password
        "[mms]\nnot_an_option = 1\n",  # an unknown key
        '[[actors]]\nname = "bad name"\npassword = "{secret}"\n',  # the password's own entry is invalid
        '[[actors]]\nname = "x"\npassword = "{secret}\n',  # a TOML syntax error on the password's line
    ],
)
def test_config_errors_do_not_echo_secrets(tmp_path: Path, broken: str) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(
        f'[[actors]]\nname = "dso"\npassword = "{DSO_PASSWORD}"\n' + broken.format(secret=MARKET_PASSWORD)
    )
    result = run_cli("check-config", "--config", config, "--state-dir", tmp_path)
    assert result.returncode == 78, result.stdout
    for secret in (DSO_PASSWORD, MARKET_PASSWORD):
        assert secret not in result.stderr + result.stdout


async def test_a_device_answering_for_another_is_audited(tmp_path: Path, broker: Broker) -> None:
    """Without a broker ACL the gateway itself catches bat1 acking on evse1's topic, and audits it."""
    devices = '[[devices]]\nid = "{0}"\nclass = "battery"\nw_set = "@Control/ActPow_FSCC1"\n'
    dev = "relevent/v1/gw1/dev"
    async with mqtt_client(broker, f"{dev}/bat1/ctl/set") as (bat1, inbox):
        with gateway(broker, tmp_path, devices.format("bat1") + devices.format("evse1")) as gw:
            ack = {"id": (await inbox.next_json())["id"], "result": "accepted"}
            await bat1.publish(f"{dev}/evse1/ctl/ack", json.dumps(ack))
            audited = await asyncio.to_thread(gw.daemon.wait_for, "audit")
    assert (audited["protocol"], audited["peer"], audited["object"]) == ("mqtt", f"{dev}/evse1/ctl/ack",
                                                                         "device evse1")  # fmt: skip
    assert audited["result"] == "refused"
    assert "sent to bat1" in audited["reason"]
    verify = run_cli("audit", "verify", "--state-dir", tmp_path / "state")
    assert verify.returncode == 0, verify.stderr


def _readyz(port: int) -> tuple[int, dict[str, bool]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as reply:
            return reply.status, json.loads(reply.read())["checks"]
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())["checks"]


async def test_a_full_disk_makes_the_gateway_unready_and_leaves_a_recorded_gap(
    tmp_path: Path, broker: Broker
) -> None:
    """Issue 16 item 7: audit rows lost while the disk is full. RLIMIT_FSIZE 0 makes every write to a file
    fail with EFBIG (Python ignores SIGXFSZ), as a full disk does, without filling a real disk."""
    devices = '[[devices]]\nid = "{0}"\nclass = "battery"\nw_set = "@Control/ActPow_FSCC1"\n'
    dev = "relevent/v1/gw1/dev"
    env = {"RELEVENT_AUDIT__FOLD_WINDOW_S": "0.2"}  # the round that retries the gap
    async with mqtt_client(broker, f"{dev}/bat1/ctl/set") as (bat1, inbox):
        with gateway(broker, tmp_path, devices.format("bat1") + devices.format("evse1"), env=env) as gw:
            pid = gw.daemon.proc.pid
            assert _readyz(gw.http_port)[1]["audit_writable"] is True
            ack = json.dumps({"id": (await inbox.next_json())["id"], "result": "accepted"})
            limits = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, limits[1]))
            try:
                await bat1.publish(f"{dev}/evse1/ctl/ack", ack)
                failed = "audit store failed; entry only in this log"
                lost = await asyncio.to_thread(gw.daemon.wait_for, failed)
                status, checks = _readyz(gw.http_port)
                assert (status, checks["audit_writable"]) == (503, False)
            finally:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, limits)
            gap = await asyncio.to_thread(gw.daemon.wait_for, "audit gap recorded")
            assert _readyz(gw.http_port)[0] == 200
    assert (lost["result"], lost["object"]) == ("refused", "device evse1")  # the entry, in the journal
    assert gap["lost"] == 1
    trail = run_cli("audit", "show", "--state-dir", tmp_path / "state").stdout.splitlines()
    assert trail[-1].endswith("gap (1 entries lost from {0} to {0} (see the log): audit append failed: "
                              "disk I/O error)".format(lost["time"]))  # fmt: skip
    assert run_cli("audit", "verify", "--state-dir", tmp_path / "state").returncode == 0


def test_relevent_ctl_speaks_tls_and_passwords(
    secured: tuple[Daemon, GatewayArgs, int], pki: Pki, tmp_path: Path
) -> None:
    _, args, _ = secured
    password = tmp_path / "dso.password"
    password.write_text(f"{DSO_PASSWORD}\n")
    port = ["--port", str(args.mms_port), "--timeout", "5"]
    tls = ["--ca", str(pki.ca), "--cert", str(pki.scada.cert), "--key", str(pki.scada.key)]

    def ctl(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relevent.ctl", *port, *extra, "status", "--json"],
            capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **(env or {})},
        )  # fmt: skip

    assert ctl(*tls, "--password-file", str(password)).returncode == 0
    assert ctl(*tls, env={"RELEVENT_CTL_PASSWORD": DSO_PASSWORD}).returncode == 0
    refused = ctl(*tls, env={"RELEVENT_CTL_PASSWORD": "wrong"})
    assert refused.returncode == 3
    assert "wrong" not in refused.stdout + refused.stderr
    assert ctl().returncode == 3  # plain MMS against the TLS port


def test_relevent_ctl_write_meets_the_actor_s_rights_before_it_changes_anything(
    secured: tuple[Daemon, GatewayArgs, int], pki: Pki, tmp_path: Path
) -> None:
    """Issue 17 item 2: the dry run over HTTP names no actor, so the first MMS request is the rights check."""
    daemon, args, http_port = secured
    tls = ["--ca", str(pki.ca), "--cert", str(pki.scada.cert), "--key", str(pki.scada.key)]
    http = f"http://127.0.0.1:{http_port}"
    where = ["--port", str(args.mms_port), "--http-url", http, "--timeout", "5", *tls]

    def ctl(password: str, *command: str) -> dict[str, object]:
        result = subprocess.run(
            [sys.executable, "-m", "relevent.ctl", *where, *command, "--json"], capture_output=True,
            text=True, timeout=60, check=False, env={**os.environ, "RELEVENT_CTL_PASSWORD": password},
        )  # fmt: skip
        document: dict[str, object] = json.loads(result.stdout)
        return document

    schedule = f"{LD}/MaxPow_FSCH02"
    assert ctl(DSO_PASSWORD, "write", schedule, "--prio", "100")["written"] == [f"{schedule}.SchdPrio.setVal"]
    audited = len([line for line in daemon.lines if line.get("event") == "audit"])
    program = ["--values", "1", "--interval", "60", "--start", "+1h", "--enable"]
    beyond_band = ctl(MARKET_PASSWORD, "write", schedule, *program)
    assert (beyond_band["ref"], beyond_band["add_cause"]) == (f"{schedule}.EnaReq", "blocked-by-mode")
    assert beyond_band["written"] == []  # its priority 100 is beyond the market's band: checked first
    priority_first = ctl(MARKET_PASSWORD, "write", schedule, "--values", "1", "--prio", "51")
    assert (priority_first["ref"], priority_first["written"]) == (f"{schedule}.SchdPrio.setVal", [])
    not_its_schedule = ctl(MARKET_PASSWORD, "write", f"{LD}/MaxPow_FSCH04", "--values", "1", "--prio", "5")
    assert (not_its_schedule["mms_error"], not_its_schedule["written"]) == ("access-denied", [])
    entries = [line for line in daemon.lines if line.get("event") == "audit"][audited:]
    assert [(e["actor"], e["command"], e["result"]) for e in entries] == [
        ("market", "operate", "access_denied"), ("market", "write", "access_denied"),
        ("market", "write", "access_denied"),
    ]  # fmt: skip
