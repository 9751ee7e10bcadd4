"""The shipped nftables rules: valid for nft, and about exactly the ports the shipped configuration serves."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import REPO

RULES = REPO / "config" / "nftables" / "relevent-gw.nft"


def test_the_rules_name_every_port_the_shipped_configuration_serves() -> None:
    config = tomllib.loads((REPO / "config" / "gateway.toml").read_text())
    broker = (REPO / "config" / "mosquitto" / "relevent.conf").read_text()
    listener = re.search(r"^listener (\d+)", broker, re.MULTILINE)
    assert listener is not None
    served = {config[section]["port"] for section in ("mms", "iec104", "ocpp", "http")} | {int(listener[1])}
    ruled = {int(port) for port in re.findall(r"tcp dport (\d+)", RULES.read_text())}
    assert ruled == served


def test_nft_accepts_the_rules() -> None:
    nft = shutil.which("nft")
    if nft is None:
        pytest.skip("nft is not installed on this machine (make test installs nftables)")
    result = subprocess.run([nft, "-c", "-f", RULES], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN here")
    assert result.returncode == 0, result.stderr
