"""IEC 104 over mutual TLS (IEC 62351-3): a raw Python ssl client with raw frames (c104's own client
cannot do TLS), the daemon's outstation pinning the SCADA's certificate."""

import socket
import ssl
import struct
import time
from pathlib import Path

import pytest
from iec60870 import parse_asdu  # type: ignore[import-untyped]

from relevent.ports import free_port
from tests.iec104.test_outstation import SETPOINT, config
from tests.integration.gateway import gateway
from tests.mosquitto import Broker
from tests.pki import Identity, Pki

pytestmark = pytest.mark.slow

STARTDT_ACT = bytes.fromhex("680407000000")
STARTDT_CON = bytes.fromhex("68040b000000")


def tls_config(port: int, pki: Pki) -> str:
    return config(port, f"""tls = true
cert_file = "{pki.server.cert}"
key_file = "{pki.server.key}"
ca_file = "{pki.ca}"
pinned_client_certs = ["{pki.scada.cert}"]
""")


def setpoint_frame(value: float) -> bytes:
    """One C_SE_NC_1 activation (I-frame, send and receive sequence 0) for IOA SETPOINT, CA 1."""
    asdu = bytes([50, 1, 6, 0]) + struct.pack("<H", 1) + SETPOINT.to_bytes(3, "little")
    asdu += struct.pack("<f", value) + b"\x00"
    return bytes([0x68, 4 + len(asdu), 0, 0, 0, 0]) + asdu


def connect(port: int, pki: Pki, identity: Identity) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=pki.ca)
    context.load_cert_chain(identity.cert, identity.key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def frames(sock: socket.socket, wait_s: float = 5.0) -> list[bytes]:
    """Whole APDUs until `wait_s` passes without more."""
    sock.settimeout(wait_s)
    found, buffer = [], b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 2 and len(buffer) >= 2 + buffer[1]:
                found.append(buffer[: 2 + buffer[1]])
                buffer = buffer[2 + buffer[1] :]
            if any(f[2] & 1 == 0 and parse_asdu(f[6:]).get("type_id") == 50 for f in found):
                break
    except TimeoutError:
        pass
    return found


def test_a_pinned_scada_commands_over_mutual_tls(broker: Broker, tmp_path: Path, pki: Pki) -> None:
    port = free_port()
    with gateway(broker, tmp_path, tls_config(port, pki)):
        with connect(port, pki, pki.scada) as sock:
            assert sock.version() in {"TLSv1.2", "TLSv1.3"}
            sock.sendall(STARTDT_ACT)
            assert sock.recv(6) == STARTDT_CON
            sock.sendall(setpoint_frame(4.0))
            answers = [parse_asdu(f[6:]) for f in frames(sock) if f[2] & 1 == 0]
        confirmation = next(a for a in answers if a["type_id"] == 50)
        assert confirmation["cot"] & 0x3F == 7  # ACT_CON
        assert not confirmation["cot"] & 0x40  # positive


@pytest.mark.parametrize("who", ["other", "rogue"])
def test_a_certificate_that_is_not_pinned_is_refused(
    broker: Broker, tmp_path: Path, pki: Pki, who: str
) -> None:
    port = free_port()
    with gateway(broker, tmp_path, tls_config(port, pki)):
        deadline = time.monotonic() + 5
        # TLS 1.3 tells a refused client certificate at the first read, not in the handshake
        refused = pytest.raises((ssl.SSLError, ConnectionError, TimeoutError))
        with refused, connect(port, pki, getattr(pki, who)) as sock:
            sock.sendall(STARTDT_ACT)
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            if sock.recv(6) == b"":
                raise ConnectionError("closed")


def test_plain_tcp_gets_no_link(broker: Broker, tmp_path: Path, pki: Pki) -> None:
    port = free_port()
    with gateway(broker, tmp_path, tls_config(port, pki)):
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(STARTDT_ACT)
            try:
                answer = sock.recv(6)
            except (TimeoutError, ConnectionError):
                answer = b""
        assert answer != STARTDT_CON
