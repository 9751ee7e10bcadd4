"""Run `relevent-gw` as a real subprocess and wait for its log lines (no sleep-and-hope)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from relevent.ports import free_port

GATEWAY = [sys.executable, "-m", "relevent"]
STDERR_KEPT = 1024 * 1024  # the tail of stderr kept for failure reports and secret checks

# A loopback port bound (never listened on) as long as the tests run: a broker URL where nobody answers.
# A port merely free at the time can become a client's own ephemeral port, and a client dialling it then
# connects to itself (TCP simultaneous open) and reads its own CONNECT back.
_NOBODY = socket.socket()
_NOBODY.bind(("127.0.0.1", 0))
NOBODY_URL = f"mqtt://127.0.0.1:{_NOBODY.getsockname()[1]}"


@dataclass
class GatewayArgs:
    """Command-line options for a gateway under test: loopback only, free ports, its own state."""

    state_dir: Path
    scl: Path | None = None
    mms_port: int = field(default_factory=free_port)
    mqtt_url: str = NOBODY_URL
    extra: tuple[str, ...] = ()
    http_port: int = 0  # 0: any free one, logged as "http listening"

    def argv(self) -> list[str]:
        """The options as a list for `running` or `run_cli`."""
        args = [
            "--state-dir", str(self.state_dir), "--mms-host", "127.0.0.1", "--mms-port", str(self.mms_port),
            "--http-port", str(self.http_port), "--mqtt-url", self.mqtt_url, "--log-format", "json",
        ]  # fmt: skip
        if self.scl is not None:
            args += ["--scl", str(self.scl)]
        return [*args, *self.extra]


def rss_kb(pid: int) -> int:
    """The resident set size of a process in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


class Daemon:
    """A running gateway whose JSON log lines can be awaited.

    Two threads drain stdout and stderr all the time: a pipe nobody reads fills up and blocks the gateway
    (its logging runs on the event loop), which would turn a slow test into a hung gateway.
    """

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        program: Sequence[str] = GATEWAY,
        cwd: Path | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [*program, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        self.lines: list[dict[str, Any]] = []
        self.stderr = b""
        self._changed = threading.Condition()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_lines, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def wait_for(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """Return the first log line whose `event` equals `event`; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if line.get("event") == event), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or not self._readers[0].is_alive():
                    events = [line.get("event") for line in self.lines]
                    raise AssertionError(f"no {event!r} log line; got {events}{self._exit_report()}")
                self._changed.wait(left)

    def _exit_report(self) -> str:
        if self.proc.poll() is None:
            return ""
        return f"; exited {self.proc.returncode}: {self.stderr.decode(errors='replace')[-2000:]}"

    def _read_lines(self, stream: IO[bytes]) -> None:
        for raw in stream:
            text = raw.decode(errors="replace").strip()
            if text.startswith("<") and ">" in text:  # journald priority prefix
                text = text.split(">", 1)[1]
            if text:
                with self._changed:
                    self.lines.append(json.loads(text))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: os.read(stream.fileno(), 4096), b""):
            self.stderr = (self.stderr + chunk)[-STDERR_KEPT:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig`, wait for the exit and the last log lines; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code


@contextmanager
def running(args: Sequence[str], env: dict[str, str] | None = None) -> Iterator[Daemon]:
    """A gateway that is killed if the test leaves it running."""
    daemon = Daemon(args, env)
    try:
        yield daemon
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
        daemon.stop()


def run_cli(
    *args: str | Path, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot `relevent-gw` command and capture its output; `env` adds environment variables."""
    return subprocess.run(
        [*GATEWAY, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@contextmanager
def taken_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on `host` that another socket listens on while the block runs."""
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        yield taken.getsockname()[1]
