"""Bad input everywhere: garbage and truncated PDUs on the MMS port, hostile SCL files.

The daemon must keep serving a real client afterwards with its memory bounded; a hostile model must end in
a clear configuration error (exit 78) in bounded time and memory, never expand, never reach out.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from open61850.data import FloatData

from tests.daemon import GATEWAY, rss_kb
from tests.integration.gateway import connect, read, write
from tests.integration.mms_gateway import LD, gateway, poll

pytestmark = pytest.mark.slow

ITEM = "ActPow_FSCH05$SP$ValASG001$setMag$f"
RSS_GROWTH_LIMIT_KB = 16 * 1024
EX_CONFIG = 78
PEAK_RSS_LIMIT_KB = 128 * 1024  # check-config of the default model peaks at ~67 MiB
ASSOCIATION_TIMEOUT_S = 0.5
GUARD_CLOSED = "mms connection closed by guard"
PROBER = "127.0.0.2"  # a host of its own (every 127/8 address is local on Linux), as a prober on the network


def recorded_session(port: int) -> bytes:
    """The bytes a real client sends for an association, a read and a write: the PDUs to cut up."""
    sent = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as relay:
        proxy_port = relay.getsockname()[1]

        def relay_one() -> None:
            inner, _ = relay.accept()
            outer = socket.create_connection(("127.0.0.1", port))
            with inner, outer:
                back = threading.Thread(target=_pump, args=(outer, inner, None), daemon=True)
                back.start()
                _pump(inner, outer, sent)
                outer.shutdown(socket.SHUT_WR)
                back.join(5)

        thread = threading.Thread(target=relay_one, daemon=True)
        thread.start()
        client = connect(proxy_port)
        read(client, ITEM)
        write(client, LD, ITEM, FloatData(1.5))
        client.close()
        thread.join(5)
    return bytes(sent)


def _pump(source: socket.socket, sink: socket.socket, copy: bytearray | None) -> None:
    while data := source.recv(65536):
        if copy is not None:
            copy += data
        sink.sendall(data)


def garbage(session: bytes, rng: random.Random) -> Iterator[bytes]:
    """Random bytes, malformed TPKT headers, and every kind of truncation or corruption of a real session."""
    yield b"\x03\x00\x00\x02"  # a TPKT shorter than its own header
    yield b"\x03\x00\xff\xff" + b"\x00" * 64  # claims 64 KiB, sends 68 bytes
    yield b"\x03\x00\x00\x07\x02\xf0\x80"  # a COTP data TPDU before any connection
    for _ in range(40):
        yield rng.randbytes(rng.randint(1, 4096))
    for _ in range(60):
        yield session[: rng.randint(1, len(session) - 1)]  # cut anywhere: mid-TPKT, mid-COTP, mid-MMS
    for _ in range(40):
        corrupted = bytearray(session)
        for _ in range(rng.randint(1, 8)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        yield bytes(corrupted)


def send_and_close(port: int, payload: bytes) -> None:
    with closing(socket.create_connection(("127.0.0.1", port), timeout=5)) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(0.5)
            while sock.recv(65536):  # whatever the server answers, until it closes (or goes quiet)
                pass
        except OSError:
            pass  # the server hung up on us first: fine


def test_garbage_and_truncated_pdus_on_the_mms_port_leave_the_daemon_serving_in_bounded_memory(
    tmp_path: Path,
) -> None:
    rng = random.Random(61850)
    with gateway(tmp_path / "state") as (daemon, args):
        session = recorded_session(args.mms_port)
        assert session.startswith(b"\x03\x00")  # TPKT
        payloads = list(garbage(session, rng))
        for payload in payloads[:20]:  # warm-up: allocator pools and caches settle
            send_and_close(args.mms_port, payload)
        before = rss_kb(daemon.proc.pid)
        for _ in range(3):
            for payload in payloads:
                send_and_close(args.mms_port, payload)
        growth = rss_kb(daemon.proc.pid) - before
        client = connect(args.mms_port)  # every slot is free again: the garbage connections were closed
        try:
            write(client, LD, ITEM, FloatData(7.25))
            assert read(client, ITEM) == 7.25
        finally:
            client.close()
    print(f"\nRSS {before} KiB, +{growth} KiB after {3 * len(payloads)} bad connections")  # noqa: T201
    assert growth < RSS_GROWTH_LIMIT_KB, f"RSS grew {growth} KiB over {3 * len(payloads)} bad connections"


def test_five_silent_tcp_connections_do_not_lock_scada_out(tmp_path: Path) -> None:
    toml = tmp_path / "gw.toml"
    toml.write_text(f"[mms]\nassociation_timeout_s = {ASSOCIATION_TIMEOUT_S}\n")
    with gateway(tmp_path / "state", extra=("--config", str(toml))) as (daemon, args):
        silent = [socket.create_connection(("127.0.0.1", args.mms_port), source_address=(PROBER, 0))
                  for _ in range(5)]  # fmt: skip
        try:
            started = time.monotonic()
            client = connect(args.mms_port)  # at once: 2 silent ones per host at most, one slot kept free
            try:
                write(client, LD, ITEM, FloatData(3.5))
                assert read(client, ITEM) == 3.5
            finally:
                client.close()
            served_after = time.monotonic() - started
            closed = poll(lambda: [line for line in daemon.lines if line.get("event") == GUARD_CLOSED],
                          lambda lines: len(lines) == 2, 5.0, "the silent ones closed")  # fmt: skip
        finally:
            for sock in silent:
                sock.close()
    assert {line["reason"] for line in closed} == {"no_association"}
    refused = [line for line in daemon.lines if line.get("event") == "mms connections refused"]
    assert refused[-1]["reason"] == "peer_limit"
    assert refused[-1]["count"] == 2  # logged in aggregate: the 1st and the 2nd of 3 refusals
    print(f"\nSCADA served {served_after:.2f} s after 5 silent connections from one host")  # noqa: T201
    assert served_after < ASSOCIATION_TIMEOUT_S


LAUGHS = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
HOSTILE = {
    "billion_laughs": f'<?xml version="1.0"?><!DOCTYPE SCL [<!ENTITY l0 "lol">{LAUGHS}]>'
    '<SCL xmlns="http://www.iec.ch/61850/2003/SCL">&l9;</SCL>',
    "external_entity": '<?xml version="1.0"?><!DOCTYPE SCL [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<SCL xmlns="http://www.iec.ch/61850/2003/SCL"><Private>&x;</Private></SCL>',
    "external_dtd": '<?xml version="1.0"?><!DOCTYPE SCL SYSTEM "http://127.0.0.1:9/evil.dtd">'
    '<SCL xmlns="http://www.iec.ch/61850/2003/SCL"/>',
    "parameter_entity": '<?xml version="1.0"?><!DOCTYPE SCL [<!ENTITY % p SYSTEM "file:///etc/passwd">%p;]>'
    '<SCL xmlns="http://www.iec.ch/61850/2003/SCL"/>',
    "deep_nesting": '<SCL xmlns="http://www.iec.ch/61850/2003/SCL">' + "<Private>" * 100_000,
    "huge_count": '<SCL xmlns="http://www.iec.ch/61850/2003/SCL"><IED name="X"><AccessPoint name="A"><Server>'
    '<LDevice inst="L"><LN0 lnClass="LLN0" inst="" lnType="T"/></LDevice></Server></AccessPoint></IED>'
    '<DataTypeTemplates><LNodeType id="T" lnClass="LLN0"><DO name="D" type="DT"/></LNodeType>'
    '<DOType id="DT" cdc="INS"><DA name="stVal" bType="INT32" fc="ST" count="4294967295"/></DOType>'
    "</DataTypeTemplates></SCL>",
    "not_scl": "\x00\xff" * 1000,
}


# Spawned from a small process of its own: a child spawned straight from pytest starts on pytest's memory
# (vfork), and Linux counts that memory's high-water mark into the child's peak when it execs.
_PEAK_RSS = (
    "import os, sys\n"
    "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def check_config(scl: Path, directory: Path) -> tuple[int, str, int]:
    """Run `relevent-gw check-config` on `scl`: (exit code, stderr, peak RSS in KiB of that process)."""
    argv = [*GATEWAY, "check-config", "--scl", str(scl), "--state-dir", str(directory / "state")]
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, *argv], capture_output=True, text=True,
                          check=False)  # fmt: skip
    return done.returncode, done.stderr, int(done.stdout.split()[-1])


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_scl_file_is_a_clear_config_error_in_bounded_time_and_memory(
    tmp_path: Path, kind: str
) -> None:
    scl = tmp_path / f"{kind}.cid"
    scl.write_bytes(HOSTILE[kind].encode("utf-8", "surrogateescape"))
    started = time.monotonic()
    code, stderr, peak_kb = check_config(scl, tmp_path)
    elapsed = time.monotonic() - started
    assert code == EX_CONFIG, stderr
    assert stderr.startswith(f"relevent-gw: error: {scl}"), stderr  # names the file (and line)
    assert "root:" not in stderr  # /etc/passwd was never read
    assert elapsed < 15, f"{kind} took {elapsed:.1f} s"
    assert peak_kb < PEAK_RSS_LIMIT_KB, f"{kind}: check-config peaked at {peak_kb} KiB"
