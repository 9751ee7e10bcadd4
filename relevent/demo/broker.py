"""A throwaway mosquitto on a free loopback port: the demo's embedded broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from relevent.errors import StartupError
from relevent.ports import free_port

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
START_TIMEOUT_S = 5.0


def find_mosquitto() -> str:
    """The mosquitto executable; a `StartupError` that says how to install it when there is none."""
    found = shutil.which("mosquitto") or next((p for p in MOSQUITTO_PATHS if Path(p).exists()), None)
    if found is None:
        raise StartupError("the demo needs Debian's mosquitto broker: apt-get install mosquitto")
    return found


class LoopbackBroker:
    """mosquitto on 127.0.0.1 only, without persistence; `kill()` and `start()` again keep the port.

    Its log goes to `mosquitto.log` beside its configuration (a pipe nobody reads would fill and block it).
    """

    def __init__(self, directory: Path, extra_conf: str = "allow_anonymous true\n") -> None:
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.conf = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.conf.write_text(f"listener {self.port} {self.host}\npersistence false\n{extra_conf}")
        self._exe = find_mosquitto()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """`mqtt://host:port` of the broker."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The mosquitto process's id while it runs (for benchmarks that watch its CPU)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> None:
        """Start mosquitto and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen([self._exe, "-c", str(self.conf)], stderr=log)  # noqa: S603
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    err = self.log.read_text(errors="replace").strip()[-2000:]
                    raise StartupError(f"mosquitto did not start: {err}") from None
                time.sleep(0.01)
            else:
                return

    def kill(self) -> None:
        """Stop at once (SIGKILL): no clean disconnects."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            self._proc = None
