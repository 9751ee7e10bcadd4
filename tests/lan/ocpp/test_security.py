"""OCPP security profiles 2 (TLS + Basic auth) and 3 (mutual TLS, the station named by its certificate)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from relevent.lan.ocpp.config import OcppSection, OcppStation
from tests.lan.ocpp.conftest import Site, options, site
from tests.pki import Identity, Pki

SETTLE_S = 3.0  # long enough that a station that was let in would have booted


def client_context(pki: Pki, identity: Identity | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    if identity is not None:
        context.load_cert_chain(identity.cert, identity.key)
    return context


def wss(s: Site, station_id: str = "cs-1") -> str:
    return f"wss://127.0.0.1:{s.port}{s.section.path}/{station_id}"


async def booted_within(s: Site, station_id: str, wait_s: float) -> bool:
    try:
        await s.stations[station_id].wait_until(lambda: s.stations[station_id].booted, wait_s)
    except TimeoutError:
        return False
    return True


async def test_profile_2_tls_with_the_stations_password(tmp_path: Path, pki: Pki) -> None:
    key = tmp_path / "cs-1.key"
    key.write_bytes(b"0123456789abcdef\n")
    tls: dict[str, Any] = {"tls": True, "cert_file": pki.server.cert, "key_file": pki.server.key}
    async with site(stations={"cs-1": OcppStation(password_file=key)}, **tls) as s:
        s.start(options(password=b"0123456789abcdef"), url=wss(s), ssl=client_context(pki))
        assert await booted_within(s, "cs-1", 20.0)


@pytest.mark.parametrize(
    ("who", "admitted"), [("station", True), ("impostor", False), (None, False)], ids=["cs-1", "cs-2", "none"]
)
async def test_profile_3_the_certificate_names_the_station(pki: Pki, who: str | None, admitted: bool) -> None:
    tls: dict[str, Any] = {
        "tls": True, "cert_file": pki.server.cert, "key_file": pki.server.key, "ca_file": pki.ca
    }  # fmt: skip
    async with site(**tls) as s:
        identity = getattr(pki, who) if who else None
        s.start(options(), url=wss(s), ssl=client_context(pki, identity))
        assert await booted_within(s, "cs-1", 20.0 if admitted else SETTLE_S) is admitted


def test_certificates_without_tls_are_refused(pki: Pki) -> None:
    with pytest.raises(ValidationError, match="tls = false"):
        OcppSection(cert_file=pki.server.cert, key_file=pki.server.key)
    with pytest.raises(ValidationError, match="needs cert_file"):
        OcppSection(tls=True)
