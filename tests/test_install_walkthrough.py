"""The operator guide's install walked through as far as this machine allows, then the installed gateway run.

Under a temporary root: the install section (user, directories, unit, configuration), the broker section
(the shipped mosquitto configuration and ACL, a password per user), the gateway's password as a systemd
credential. Then mosquitto runs that configuration (TLS only, the site CA) and the gateway runs the
installed configuration pointed at it as the guide says, its credential read from the credentials
directory as systemd's LoadCredential= hands it over. Left out: apt-get, pip into /opt, systemctl.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from relevent.ports import free_port
from tests.daemon import run_cli, running
from tests.install import guide_steps, run_step
from tests.mosquitto import Broker, TlsFiles, wait_until

PASSWORDS = {"gw": "gw-walkthrough", "bat1": "bat1-walkthrough"}
TOPICS = "relevent/v1/gw1/dev"


def _install_broker(root: Path, tls_files: TlsFiles) -> None:
    """The guide's broker steps (its password prompts answered), and the site CA's broker certificate."""
    certs = root / "etc/mosquitto/certs"
    for folder in (root / "etc/mosquitto/conf.d", certs):  # what Debian's mosquitto package leaves
        folder.mkdir(parents=True)
    for step in guide_steps("## Broker, TLS and users"):
        if step[0] == "mosquitto_passwd":  # it asks for the password twice: give it on the command line
            run_step([step[0], "-b", *step[1:], PASSWORDS[step[-1]]], root)
        else:
            run_step(step, root)
    server = tls_files.ca.parent
    for source, target in ((tls_files.ca, "ca.crt"), (server / "server.crt", "broker.crt"),
                           (server / "server.key", "broker.key")):  # fmt: skip
        (certs / target).write_bytes(source.read_bytes())
    [credential] = guide_steps("## Broker, TLS and users", block=1)
    here = credential.index("<<<")
    run_step(credential[:here], root, stdin=f"{PASSWORDS['gw']}\n")


def _start_broker(root: Path, directory: Path) -> tuple[Broker, int]:
    """mosquitto with the installed configuration, its TLS listener moved to a free loopback port."""
    shipped = (root / "etc/mosquitto/conf.d/relevent.conf").read_text()
    port = free_port()
    conf = re.sub(r"^listener 8883$", f"listener {port} 127.0.0.1", shipped, flags=re.MULTILINE)
    conf = conf.replace("/etc/mosquitto/", f"{root}/etc/mosquitto/")
    # killed, never saved: no mosquitto.db left in the working directory
    conf = conf.replace("persistence true\n", "")
    directory.mkdir()
    broker = Broker(directory, conf)
    broker.start()
    return broker, port


def _device(port: int, ca: Path, user: str | None) -> aiomqtt.Client:
    context = ssl.create_default_context(cafile=str(ca))
    password = None if user is None else PASSWORDS[user]
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password, tls_context=context,
                          identifier=f"walkthrough-{user}", timeout=5)  # fmt: skip


def _status(http_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/status", timeout=5) as reply:
        document: dict[str, Any] = json.loads(reply.read())
    return {device["id"]: device for device in document["devices"]}


async def test_the_installed_gateway_reaches_its_devices_through_the_guides_tls_broker(
    installed: Path, tls_files: TlsFiles, tmp_path: Path
) -> None:
    root = installed
    user = r"^relevent-gw:x:\d+:\d+:.*:/var/lib/relevent-gw:"
    assert re.search(user, (root / "etc/passwd").read_text(), re.MULTILINE), "systemd-sysusers made no user"
    _install_broker(root, tls_files)
    credential = root / "etc/relevent-gw/credentials/mqtt__password"
    assert credential.stat().st_mode & 0o777 == 0o600
    broker, port = _start_broker(root, tmp_path / "broker")
    try:
        config = root / "etc/relevent-gw/gateway.toml"
        shipped = config.read_text()
        url_line = 'url = "mqtt://127.0.0.1:1883"'
        assert url_line in shipped
        # "Point the gateway at it": url, username and ca_file; the password only as the credential
        ca_file = root / "etc/mosquitto/certs/ca.crt"
        pointed = f'url = "mqtts://127.0.0.1:{port}"\nusername = "gw"\nca_file = "{ca_file}"'
        config.write_text(shipped.replace(url_line, pointed))
        check = run_cli("check-config", "--config", config)
        assert check.returncode == 0, check.stdout + check.stderr
        argv = ["--config", str(config), "--state-dir", str(root / "var/lib/relevent-gw"),
                "--mms-host", "127.0.0.1", "--mms-port", str(free_port()), "--http-port", "0",
                "--log-format", "json"]  # fmt: skip
        env = {"CREDENTIALS_DIRECTORY": str(credential.parent)}
        with running(argv, env=env) as daemon:
            http_port = daemon.wait_for("http listening")["port"]
            daemon.wait_for("mqtt connected", 30)
            daemon.wait_for("gateway running", 60)
            await _device_checks(port, tls_files.ca, http_port)
            assert daemon.stop() == 0
        assert PASSWORDS["gw"] not in repr(daemon.lines) + daemon.stderr.decode(errors="replace")
    finally:
        broker.kill()


async def _device_checks(port: int, ca: Path, http_port: int) -> None:
    """bat1 reads its own commands and writes its own measurements; another device's are closed to it."""
    with pytest.raises(aiomqtt.MqttError):  # no anonymous clients
        async with _device(port, ca, None):
            pass
    async with _device(port, ca, "bat1") as bat1:
        await bat1.subscribe(f"{TOPICS}/evse1/ctl/#", qos=1)  # denied: its retained plan never arrives
        await bat1.subscribe(f"{TOPICS}/bat1/ctl/plan", qos=1)
        async for message in bat1.messages:  # in order: evse1's plan would have come first
            assert str(message.topic) == f"{TOPICS}/bat1/ctl/plan", message.topic
            break
        now = time.time()
        await bat1.publish(f"{TOPICS}/evse1/meas", json.dumps({"ts": now, "w": 999.0}), qos=1)  # denied
        await bat1.publish(f"{TOPICS}/bat1/meas", json.dumps({"ts": now, "w": 1234.0}), qos=1)
        await wait_until(lambda: _status(http_port)["bat1"]["measurement"] is not None, 10)
        assert _status(http_port)["bat1"]["measurement"]["w"] == 1234.0
        assert _status(http_port)["evse1"]["measurement"] is None
