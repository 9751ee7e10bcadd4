"""Transport security and client authentication of the MMS server (IEC 62351-3/-4 style).

TLS is terminated by the gateway itself (`tls_front`): mutual, every client certificate must chain to the
configured CA, and with certificate authentication the SHA-256 of the certificate names the actor.
Password authentication is libiec61850's ACSE authenticator, a ctypes callback: it names the actor by its
ACSE password and hands libiec61850 that actor's index as the connection's security token, so every later
request knows its actor. A refused association gets a token too (`REFUSED_CREDENTIAL`, `REFUSED_LIMIT`):
the callback does not know the connection, the token tells `Associations` which one failed, and why.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import structlog
from pydantic import SecretStr

from relevent.errors import StartupError
from relevent.wan.mms.hop import LoopHop
from relevent.wan.mms.lib import AcseAuthenticator, AuthParameter, lib

log = structlog.get_logger(__name__)

ACSE_AUTH_PASSWORD = 1
# Security tokens of refused associations, far above any actor's index: a wrong credential, a full limit.
REFUSED_CREDENTIAL = 0x7FFF_FFF1
REFUSED_LIMIT = 0x7FFF_FFF2


class TlsSetupError(StartupError):
    """A TLS file cannot be loaded (missing, unreadable, not PEM/DER, key not matching).

    Like any start-up error, worth a restart (`MmsServerError` carries it out of the MMS server).
    """


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

    def actor_for_password(self, password: bytes) -> str | None:
        """The actor an ACSE password proves, or None."""
        if self.method != "password":
            return None
        # Every password is compared (in constant time each): no early exit that times the match.
        matches = [name for name, secret in self.passwords.items()
                   if hmac.compare_digest(secret.get_secret_value().encode(), password)]  # fmt: skip
        return matches[0] if len(matches) == 1 else None

    def actor_for_certificate(self, der: bytes) -> str | None:
        """The actor a TLS client certificate (DER) is listed for, or None."""
        return self.certificates.get(hashlib.sha256(der).digest()) if self.method == "certificate" else None


class Authenticator:
    """The server's ACSE password authenticator: maps each association to an actor, refusing the others.

    libiec61850 keeps a raw pointer to the callback: keep this object as long as the server. The callback
    arrives on libiec61850's thread; its work runs on the event loop (`hop`), beside the admission it asks.
    """

    def __init__(
        self, server: int, credentials: Credentials, admit: Callable[[str], bool], hop: LoopHop
    ) -> None:
        """Authenticate for `server`; `admit` says whether an actor's association would be kept now."""
        self._credentials = credentials
        self._admit = admit
        self._hop = hop
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
        return self._hop.run(partial(self._decide, parameter, token), refusal=False)

    def _decide(
        self, parameter: ctypes._Pointer[AuthParameter], token: ctypes._Pointer[ctypes.c_void_p]
    ) -> bool:
        try:
            auth = parameter.contents
            credential = ctypes.string_at(auth.buf, auth.length) if auth.buf and auth.length > 0 else b""
            by_password = auth.mechanism == ACSE_AUTH_PASSWORD
            name = self._credentials.actor_for_password(credential) if by_password else None
            if name is None:  # logged by the throttle, in aggregate and with the peer
                token[0] = REFUSED_CREDENTIAL
                return False
            if not self._admit(name):
                token[0] = REFUSED_LIMIT  # logged in aggregate with the peer, as the refusal above
                return False
            if name not in self._names:
                self._names.append(name)
            token[0] = self._names.index(name) + 1
            log.info("mms association authenticated", actor=name)
        except BaseException:  # fail closed; an exception must not reach libiec61850
            log.exception("mms authenticator failed; association refused")
            return False
        return True
