"""Throwaway X.509 material for TLS tests, made with the openssl CLI: a CA, a server certificate for
127.0.0.1, client certificates it signed, and a rogue CA with a client of its own."""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Identity:
    """A certificate and its key."""

    cert: Path
    key: Path

    @property
    def sha256(self) -> str:
        """The certificate's SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it."""
        der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())
        return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Identity
    scada: Identity  # signed by `ca`
    other: Identity  # signed by `ca` as well, listed for no actor
    rogue_ca: Path
    rogue: Identity  # signed by `rogue_ca`
    station: Identity  # a charging station's: CN cs-1, signed by `ca`
    impostor: Identity  # CN cs-2, signed by `ca`


def make_pki(d: Path) -> Pki:
    """Create every file in `d` (about a second: seven RSA keys)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (`make test` installs it)")

    def ssl_cli(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    def issue(name: str, ca: str, extensions: str = "") -> Identity:
        ssl_cli("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}")  # fmt: skip
        ext = ["-extfile", extensions] if extensions else []
        ssl_cli("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", *ext)  # fmt: skip
        return Identity(d / f"{name}.crt", d / f"{name}.key")

    for ca in ("ca", "rogue-ca"):
        ssl_cli("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
                "-days", "2", "-subj", f"/CN=relevent-test-{ca}")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    return Pki(
        ca=d / "ca.crt",
        server=issue("server", "ca", "san.ext"),
        scada=issue("scada", "ca"),
        other=issue("other", "ca"),
        rogue_ca=d / "rogue-ca.crt",
        rogue=issue("rogue", "rogue-ca"),
        station=issue("cs-1", "ca"),
        impostor=issue("cs-2", "ca"),
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """One set of certificates for the whole session."""
    return make_pki(tmp_path_factory.mktemp("pki"))
