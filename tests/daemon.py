"""Run `relevent-gw` as a real subprocess and wait for its log lines (no sleep-and-hope)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port

GATEWAY = [sys.executable, "-m", "relevent"]


@dataclass
class GatewayArgs:
    """Command-line options for a gateway under test: loopback only, free ports, its own state."""

    state_dir: Path
    scl: Path | None = None
    mms_port: int = field(default_factory=free_port)
    mqtt_url: str = field(default_factory=lambda: f"mqtt://127.0.0.1:{free_port()}")  # nobody there
    extra: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        """The options as a list for `running` or `run_cli`."""
        args = [
            "--state-dir", str(self.state_dir), "--mms-host", "127.0.0.1", "--mms-port", str(self.mms_port),
            "--http-port", "0", "--mqtt-url", self.mqtt_url, "--log-format", "json",
        ]  # fmt: skip
        if self.scl is not None:
            args += ["--scl", str(self.scl)]
        return [*args, *self.extra]


class Daemon:
    """A running gateway process whose JSON log lines can be awaited."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*GATEWAY, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[dict[str, Any]] = []
        self._selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""

    def wait_for(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """Return the first log line whose `event` equals `event`; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if line.get("event") == event:
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and not self._read(0)):
                raise AssertionError(f"no {event!r} log line; got {[ln.get('event') for ln in self.lines]}"
                                     f"{self._exit_report()}")
            self._read(left)

    def _exit_report(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return f"; exited {self.proc.returncode}: {self.proc.stderr.read().decode()[-2000:]}"

    def _read(self, timeout: float) -> bool:
        if not self._selector.select(timeout):
            return False
        assert self.proc.stdout is not None
        chunk = self.proc.stdout.read() or b""
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        for raw in complete:
            text = raw.decode().strip()
            if text.startswith("<") and ">" in text:  # journald priority prefix
                text = text.split(">", 1)[1]
            if text:
                self.lines.append(json.loads(text))
        return bool(chunk)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._read(0)
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
            daemon.proc.wait(5)
        for stream in (daemon.proc.stdout, daemon.proc.stderr):
            if stream is not None:
                stream.close()


def run_cli(*args: str | Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a one-shot `relevent-gw` command and capture its output."""
    return subprocess.run(
        [*GATEWAY, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
