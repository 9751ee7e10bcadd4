"""Transport security and client authentication of the MMS server (IEC 62351-3/-4 style).

TLS is libiec61850's own (mbedTLS): mutual, every client certificate must chain to the configured CA.
Authentication is libiec61850's ACSE authenticator, a ctypes callback: it names the actor a connection
belongs to, by its ACSE password or by the SHA-256 of its TLS certificate, and hands libiec61850 that
actor's index as the connection's security token, so every later request knows its actor.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import structlog
from pydantic import SecretStr

from relevent.wan.mms.lib import AcseAuthenticator, AuthParameter, lib

log = structlog.get_logger(__name__)

ACSE_AUTH_PASSWORD = 1
ACSE_AUTH_TLS = 3  # no ACSE credential, the TLS client certificate instead
_MECHANISMS = {0: "none", ACSE_AUTH_PASSWORD: "password", 2: "acse-certificate", ACSE_AUTH_TLS: "tls"}


class TlsSetupError(ValueError):
    """A TLS file cannot be loaded (missing, unreadable, not PEM/DER, key not matching)."""


@dataclass(frozen=True)
class TlsFiles:
    """The server's TLS identity and the CA its clients' certificates must chain to."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class Credentials:
    """Who may associate, and how: actors by password, or by certificate SHA-256 (32 bytes)."""

    method: Literal["password", "certificate"]
    passwords: Mapping[str, SecretStr] = field(default_factory=dict)  # actor name -> password
    certificates: Mapping[bytes, str] = field(default_factory=dict)  # fingerprint -> actor name

    def actor_for(self, mechanism: int, credential: bytes) -> str | None:
        """The actor a credential proves, or None."""
        if self.method == "password" and mechanism == ACSE_AUTH_PASSWORD:
            # Every password is compared (in constant time each): no early exit that times the match.
            matches = [name for name, secret in self.passwords.items()
                       if hmac.compare_digest(secret.get_secret_value().encode(), credential)]  # fmt: skip
            return matches[0] if len(matches) == 1 else None
        if self.method == "certificate" and mechanism == ACSE_AUTH_TLS:
            return self.certificates.get(hashlib.sha256(credential).digest())
        return None


def tls_configuration(files: TlsFiles) -> int:
    """A libiec61850 server TLSConfiguration; the caller destroys it after the server."""
    tls = int(lib.TLSConfiguration_create())
    loaded = {
        "ca_file": lib.TLSConfiguration_addCACertificateFromFile(tls, str(files.ca).encode()),
        "cert_file": lib.TLSConfiguration_setOwnCertificateFromFile(tls, str(files.cert).encode()),
        "key_file": lib.TLSConfiguration_setOwnKeyFromFile(tls, str(files.key).encode(), None),
    }
    if failed := [name for name, ok in loaded.items() if not ok]:
        lib.TLSConfiguration_destroy(tls)
        raise TlsSetupError(f"cannot load the MMS {' and '.join(failed)} (not PEM/DER, or unreadable)")
    return tls  # chain validation against the CA is libiec61850's default


class Authenticator:
    """The server's ACSE authenticator: maps each association to an actor, refusing unknown credentials.

    libiec61850 keeps a raw pointer to the callback: keep this object as long as the server.
    """

    def __init__(self, server: int, credentials: Credentials) -> None:
        self._credentials = credentials
        self._names: list[str] = []  # security token i+1 -> actor name
        self._callback = AcseAuthenticator(self._authenticate)
        lib.IedServer_setAuthenticator(server, self._callback, None)

    def user_of(self, connection: int | None) -> str | None:
        """The actor a connection authenticated as (None before or without authentication)."""
        token = lib.ClientConnection_getSecurityToken(connection) if connection else None
        return self._names[token - 1] if token and 0 < token <= len(self._names) else None

    def _authenticate(
        self,
        _: int | None,
        parameter: ctypes._Pointer[AuthParameter],
        token: ctypes._Pointer[ctypes.c_void_p],
        __: int | None,
    ) -> bool:
        try:
            auth = parameter.contents
            credential = ctypes.string_at(auth.buf, auth.length) if auth.buf and auth.length > 0 else b""
            name = self._credentials.actor_for(auth.mechanism, credential)
            if name is not None:
                if name not in self._names:
                    self._names.append(name)
                token[0] = self._names.index(name) + 1
                log.info("mms association authenticated", actor=name)
            else:  # the credential itself is never logged
                log.warning("mms association refused", method=self._credentials.method,
                            offered=_MECHANISMS.get(auth.mechanism, str(auth.mechanism)))  # fmt: skip
        except BaseException:  # fail closed; an exception must not reach libiec61850
            log.exception("mms authenticator failed; association refused")
            return False
        return name is not None
