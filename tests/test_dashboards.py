"""The Grafana dashboard and the Prometheus alert rules in config/ name only metrics the gateway exports:
checked against the /metrics of a real daemon with every protocol's adapter on."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from relevent.ports import free_port
from tests.conftest import REPO
from tests.hedera.site import config as hedera_site
from tests.hedera.site import fake_hedera
from tests.integration.gateway import gateway
from tests.mosquitto import Broker
from tests.protocol_sites import iec104, ocpp

pytestmark = pytest.mark.slow

DASHBOARD = REPO / "config" / "grafana-dashboard.json"
ALERTS = REPO / "config" / "prometheus-alerts.yml"
NAME = re.compile(r"\brelevent_[a-z0-9_]+")
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created")


def referenced() -> dict[str, set[str]]:
    """Every relevent_* metric name each file's queries use."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = [line.split("expr:", 1)[1] for line in ALERTS.read_text().splitlines() if "expr:" in line]
    return {
        DASHBOARD.name: {name for query in queries for name in NAME.findall(query)},
        ALERTS.name: {name for query in rules for name in NAME.findall(query)},
    }


def families(http_port: int) -> set[str]:
    """The metric families on /metrics (a labelled family is listed before its first sample)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


async def test_every_metric_of_the_dashboard_and_the_alerts_is_exported(
    broker: Broker, tmp_path: Path
) -> None:
    async with fake_hedera(tmp_path) as (fake, secret):
        toml = hedera_site(fake, secret) + iec104(free_port()) + ocpp(free_port())
        with gateway(broker, tmp_path, toml) as gw:
            exported = families(gw.http_port)
    # what every deployment wants beside the gateway's own: its version, the process's resources
    assert {"relevent_build_info", "process_resident_memory_bytes", "python_info"} <= exported
    for file, names in referenced().items():
        assert names, f"{file} names no metric"
        missing = {name for name in names if not any(name.removesuffix(s) in exported for s in SUFFIXES)}
        assert not missing, f"{file} uses metrics the gateway does not export: {sorted(missing)}"


def test_the_alert_rules_cover_what_an_operator_is_paged_for() -> None:
    text = ALERTS.read_text()
    for alert in ("GatewayDown", "DeviceUnhealthy", "BrokerDisconnected", "HederaFallbackActive",
                  "AuditEntriesLost"):  # fmt: skip
        assert f"alert: Relevent{alert}" in text
