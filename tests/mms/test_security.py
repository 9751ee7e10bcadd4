"""MMS over mutual TLS and ACSE authentication, against a libiec61850 client in another process.

Good certificate accepted; a certificate of another CA, no certificate, a plain TCP client, a wrong or
missing password refused. The authenticated actor travels with every write and operate.
"""

from __future__ import annotations

import hashlib
import ssl

import pyiec61850.pyiec61850 as iec
import pytest
from pydantic import SecretStr

from relevent.ctl.client import ClientSecurity
from relevent.scl.model import SclDocument
from relevent.wan.mms import MmsServer, MmsServerError, MmsSettings, Verdict
from relevent.wan.mms.security import Credentials, TlsFiles
from tests.mms.iec_client import IecClient
from tests.mms.support import HOST, LD, PolicyGate, running
from tests.pki import Identity, Pki

PRIO = f"{LD}/ActPow_FSCH01.SchdPrio.setVal"
PASSWORDS = Credentials("password", passwords={"dso": SecretStr("dso-pw"), "market": SecretStr("mkt-pw")})


def _gate() -> PolicyGate:
    return PolicyGate(rules={PRIO: lambda _: Verdict.SUCCESS})


def _tls(pki: Pki) -> TlsFiles:
    return TlsFiles(ca=pki.ca, cert=pki.server.cert, key=pki.server.key)


def _fingerprint(identity: Identity) -> bytes:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(identity.cert.read_text())).digest()


def _client(pki: Pki, identity: Identity | None, password: str | None = None) -> ClientSecurity:
    return ClientSecurity(
        ca_file=pki.ca,
        cert_file=identity.cert if identity else None,
        key_file=identity.key if identity else None,
        password=password,
    )


async def _refused(client: IecClient, port: int, security: ClientSecurity | None) -> None:
    with pytest.raises(RuntimeError, match="UnreachableError"):
        await client.call("connect", HOST, port, security)


async def test_tls_accepts_a_certificate_of_its_ca_and_refuses_others(
    reference: SclDocument, iec_client: IecClient, pki: Pki
) -> None:
    gate = _gate()
    async with running(reference, gate, tls=_tls(pki)) as server:
        port = server.settings.port
        await _refused(iec_client, port, _client(pki, pki.rogue))  # wrong CA
        await _refused(iec_client, port, _client(pki, None))  # no client certificate
        await _refused(iec_client, port, None)  # plain TCP on the TLS port
        await iec_client.call("connect", HOST, port, _client(pki, pki.scada))
        assert await iec_client.call("write", PRIO, "SP", 7) == iec.IED_ERROR_OK
        await iec_client.call("close")
    assert [actor.user for _, _, actor in gate.writes] == [None]  # TLS alone names no actor


async def test_certificate_authentication_names_the_actor_of_a_listed_certificate(
    reference: SclDocument, iec_client: IecClient, pki: Pki
) -> None:
    gate = _gate()
    credentials = Credentials("certificate", certificates={_fingerprint(pki.scada): "scada"})
    async with running(reference, gate, tls=_tls(pki), credentials=credentials) as server:
        port = server.settings.port
        await _refused(iec_client, port, _client(pki, pki.other))  # the right CA, but listed for nobody
        await iec_client.call("connect", HOST, port, _client(pki, pki.scada))
        assert await iec_client.call("write", PRIO, "SP", 7) == iec.IED_ERROR_OK
        assert (await iec_client.call("operate", f"{LD}/ActPow_FSCH01.EnaReq", True))[0]
        await iec_client.call("close")
    assert [actor.user for _, _, actor in gate.writes] == ["scada"]
    assert [actor.user for *_, actor in gate.operates] == ["scada"]


async def test_password_authentication_over_tls_refuses_a_wrong_or_missing_password(
    reference: SclDocument, iec_client: IecClient, pki: Pki
) -> None:
    gate = _gate()
    async with running(reference, gate, tls=_tls(pki), credentials=PASSWORDS) as server:
        port = server.settings.port
        await _refused(iec_client, port, _client(pki, pki.scada, password="wrong"))
        await _refused(iec_client, port, _client(pki, pki.scada))  # no password
        await _refused(iec_client, port, _client(pki, pki.rogue, password="dso-pw"))  # TLS still checked
        for password in ("mkt-pw", "dso-pw"):
            await iec_client.call("connect", HOST, port, _client(pki, pki.scada, password=password))
            assert await iec_client.call("write", PRIO, "SP", 7) == iec.IED_ERROR_OK
            await iec_client.call("close")
    assert [actor.user for _, _, actor in gate.writes] == ["market", "dso"]


async def test_password_authentication_without_tls(reference: SclDocument, iec_client: IecClient) -> None:
    gate = _gate()
    async with running(reference, gate, credentials=PASSWORDS) as server:
        port = server.settings.port
        await _refused(iec_client, port, ClientSecurity(password="wrong"))
        await _refused(iec_client, port, None)
        await iec_client.call("connect", HOST, port, ClientSecurity(password="dso-pw"))
        assert await iec_client.call("write", PRIO, "SP", 7) == iec.IED_ERROR_OK
        await iec_client.call("close")
    assert [actor.user for _, _, actor in gate.writes] == ["dso"]


def test_an_unusable_tls_file_is_a_startup_error(reference: SclDocument, pki: Pki) -> None:
    files = TlsFiles(ca=pki.ca, cert=pki.server.cert, key=pki.ca)  # a certificate where the key belongs
    with pytest.raises(MmsServerError, match="key_file"):
        MmsServer.build(reference, _gate(), MmsSettings(host=HOST, port=1, tls=files))
