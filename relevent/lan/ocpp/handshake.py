"""Who may open an OCPP connection: a configured station identity, its password where it has one."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidHeader
from websockets.headers import parse_authorization_basic
from websockets.http11 import Request, Response


class Admission:
    """The handshake check: the path names a known station; Basic auth (user = station id) if required.

    With `certificates` (security profile 3) the TLS client certificate's CN must be the station id.
    """

    def __init__(
        self, path: str, passwords: Mapping[str, bytes | None], *, certificates: bool = False
    ) -> None:
        self.prefix = path.rstrip("/") + "/"
        self.passwords = passwords
        self.certificates = certificates

    def station_id(self, path: str) -> str | None:
        """The station a request path names (`<path>/<id>`), if configured."""
        path = path.split("?", 1)[0]
        if not path.startswith(self.prefix):
            return None
        station_id = path[len(self.prefix) :]
        return station_id if station_id in self.passwords else None

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        """None to accept; 404 for an unknown identity, 401 for missing or wrong credentials."""
        station_id = self.station_id(request.path)
        if station_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charging station\n")
        if self.certificates and _common_name(connection) != station_id:
            return connection.respond(HTTPStatus.FORBIDDEN, "the certificate names another station\n")
        expected = self.passwords[station_id]
        if expected is None:
            return None
        header = request.headers.get("Authorization")
        try:
            user, password = parse_authorization_basic(header) if header else (None, None)
        except InvalidHeader:
            user = password = None
        # A station key may be any bytes: websockets hands them over surrogate-escaped.
        given = password.encode("utf-8", "surrogateescape") if password is not None else b""
        if user != station_id or not hmac.compare_digest(given, expected):
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "wrong station credentials\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        return None


def _common_name(connection: ServerConnection) -> str | None:
    """The CN of the TLS client certificate (None without one)."""
    peer = connection.transport.get_extra_info("peercert") if connection.transport else None
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
