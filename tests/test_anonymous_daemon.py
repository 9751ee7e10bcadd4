"""Issue #16 item 3: an open MMS server (no TLS, no authentication) listens on loopback only, and says so,
unless `[mms] allow_anonymous = true` opens it deliberately (warned at every start). Checked on the real
gateway, with the kernel's own table of listening sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon import GatewayArgs, running

WILDCARD, LOOPBACK = "00000000", "0100007F"  # /proc/net/tcp spells 0.0.0.0 and 127.0.0.1 so


def listening_on(port: int) -> set[str]:
    """The local IPv4 addresses (as /proc/net/tcp spells them) with a socket listening on `port`."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(address)
    return found


@pytest.mark.parametrize(
    ("config", "bound", "warning"),
    [
        ("", LOOPBACK, "mms listens on loopback only: no tls and no authentication"),
        ("allow_anonymous = true\n", WILDCARD, "mms serves anonymous clients with full control"),
    ],
)
def test_an_open_mms_server_is_loopback_only_unless_anonymous_clients_are_allowed(
    tmp_path: Path, config: str, bound: str, warning: str
) -> None:
    toml = tmp_path / "gw.toml"
    toml.write_text(f"[mms]\n{config}")
    args = GatewayArgs(tmp_path / "state", extra=("--config", str(toml), "--mms-host", "0.0.0.0"))
    with running(args.argv()) as daemon:
        listening = daemon.wait_for("mms server listening", 30)
        warned = next(line for line in daemon.lines if line["event"].startswith(warning))
        assert listening_on(args.mms_port) == {bound}
        assert daemon.stop() == 0
    assert warned["level"] == "warning"
    assert listening["host"] == ("127.0.0.1" if bound == LOOPBACK else "0.0.0.0")
