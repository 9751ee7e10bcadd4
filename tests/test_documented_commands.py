"""The commands of the README and the SCADA guide, run as written from a checkout (issue 17, item 11).

The one change: their fixed MMS port 10102 becomes a free port. The environment keeps the run on loopback
(`RELEVENT_MMS__HOST`), on a free HTTP port (`RELEVENT_CTL_HTTP_URL` tells `relevent-ctl`) and on the
test's broker; it does not change a command.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from relevent.ports import free_port
from tests.conftest import REPO
from tests.daemon import Daemon
from tests.mosquitto import Broker

pytestmark = pytest.mark.slow

ACTIVATE = ". .venv/bin/activate"
DOC_PORT = "10102"
LONG_RUNNING = re.compile(r"^relevent-gw --")  # the gateway itself: runs until stopped
INTERACTIVE = re.compile(r"^relevent-ctl .* watch\b")  # prints reports until Ctrl-C


def shell_blocks(doc: Path) -> list[list[str]]:
    """The lines of every ```sh block of a Markdown file."""
    blocks = re.findall(r"^```sh\n(.*?)^```", doc.read_text(), re.DOTALL | re.MULTILINE)
    return [block.splitlines() for block in blocks]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout where files written by the commands land in a temporary directory: the repository's
    entries linked in, and `.venv` the environment running the tests (what `make run` would have made)."""
    view = tmp_path / "checkout"
    view.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".venv"):
            (view / entry.name).symlink_to(entry)
    (view / ".venv").symlink_to(sys.prefix)
    return view


def test_the_readme_commands_work_as_written(checkout: Path, broker: Broker) -> None:
    [_, usage] = shell_blocks(REPO / "README.md")
    assert usage[0].startswith(ACTIVATE)
    _run_all(usage[1:], checkout, broker)


def test_the_scada_guide_commands_work_as_written_against_the_shipped_model(
    checkout: Path, broker: Broker
) -> None:
    [ctl] = shell_blocks(REPO / "docs" / "scada-guide.md")
    _run_all([f"relevent-gw --state-dir state --mms-port {DOC_PORT}", *ctl], checkout, broker)


def _run_all(lines: list[str], checkout: Path, broker: Broker) -> None:
    """Run `lines` in order in the checkout: the gateway's in the background, until the end, the others
    one by one, each to a zero exit code."""
    port = str(free_port())
    http_port = free_port()
    env = {"RELEVENT_MMS__HOST": "127.0.0.1", "RELEVENT_HTTP__PORT": str(http_port),
           "RELEVENT_CTL_HTTP_URL": f"http://127.0.0.1:{http_port}",
           "RELEVENT_MQTT__URL": broker.url}  # fmt: skip
    gateway: Daemon | None = None
    try:
        for line in (line.replace(DOC_PORT, port) for line in lines):
            if LONG_RUNNING.match(line):
                gateway = Daemon(["-c", f"{ACTIVATE} && exec {line}"], env, program=["bash"], cwd=checkout)
                gateway.wait_for("gateway running", timeout=60)
            elif not INTERACTIVE.match(line):
                result = subprocess.run(["bash", "-c", f"{ACTIVATE} && {line}"], cwd=checkout,
                                        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
                                        check=False)  # fmt: skip
                assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        assert gateway is not None
        assert gateway.stop(signal.SIGINT) == 0  # Ctrl-C
    finally:
        if gateway is not None and gateway.proc.poll() is None:
            gateway.proc.kill()


def test_make_run_hands_args_to_the_demo() -> None:
    result = subprocess.run(["make", "-n", "run", "ARGS=--mms-port 10103"], cwd=REPO,
                            capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ".venv/bin/relevent-gw demo --mms-port 10103" in result.stdout


@pytest.mark.timeout(120)
def test_the_demo_prints_a_relevent_ctl_line_that_reaches_its_gateway() -> None:
    mms_port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "relevent", "demo", "--duration", "60",
         "--mms-port", str(mms_port), "--http-port", str(free_port())],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        hint = next(line for line in demo.stdout if "SCADA client, in another shell: " in line)
        command = hint.split("SCADA client, in another shell: ", 1)[1].strip()
        assert command.endswith(f"relevent-ctl --port {mms_port} status")
        result = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ActPow_FSCC1" in result.stdout
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
