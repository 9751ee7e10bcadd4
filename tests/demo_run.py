"""`relevent-gw demo` as a subprocess for a fixed time; a demo that does not stop fails with its stacks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relevent.obs.task_dump import DUMP_EVENT
from relevent.ports import free_port

GRACE_S = 45  # start-up (broker, gateway, SCADA) and stop on a loaded machine
DUMP_WAIT_S = 5.0
LOG_TAIL = 6000


def run_demo(duration_s: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the demo for `duration_s` on free ports; its output, or a failure that shows where it hangs.

    The demo runs in a session of its own, so that signals reach it and its gateway: SIGUSR1 has both log
    where each asyncio task waits, then SIGABRT has their fault handlers print every thread's stack.
    """
    command = [sys.executable, "-m", "relevent", "demo", "--duration", str(duration_s),
               "--mms-port", str(free_port()), "--http-port", str(free_port()), *extra]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as demo:  # fmt: skip
        try:
            stdout, stderr = demo.communicate(timeout=duration_s + GRACE_S)
        except subprocess.TimeoutExpired as hung:
            logs = _logs(hung.stdout)
            os.killpg(demo.pid, signal.SIGUSR1)
            _wait_for_dumps(logs)
            os.killpg(demo.pid, signal.SIGABRT)
            stdout, stderr = demo.communicate(timeout=10)
            tails = "\n".join(f"{log}:\n{log.read_text(errors='replace')[-LOG_TAIL:]}" for log in logs)
            pytest.fail(f"the demo did not stop:\n{stdout}\n{stderr}\n{tails}")
    return subprocess.CompletedProcess(command, demo.returncode, stdout, stderr)


def _logs(stdout: bytes | str | None) -> list[Path]:
    """The demo's and its gateway's log files, from the demo's first line."""
    text = stdout.decode(errors="replace") if isinstance(stdout, bytes) else stdout or ""
    found = re.search(r"logs in (\S+)", text)
    workdir = Path(found.group(1)) if found else None
    return [workdir / "demo.log", workdir / "gateway.log"] if workdir else []


def _wait_for_dumps(logs: list[Path]) -> None:
    """Until every log holds a task dump, for at most `DUMP_WAIT_S` (a wedged loop never writes one)."""
    deadline = time.monotonic() + DUMP_WAIT_S
    while time.monotonic() < deadline and not all(map(_dumped, logs)):
        time.sleep(0.1)


def _dumped(log: Path) -> bool:
    return DUMP_EVENT in log.read_text(errors="replace")
