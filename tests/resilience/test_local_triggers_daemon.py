"""Local triggers on the real daemon: SCADA leaves, the fallback runs; SCADA returns, it stops."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from open61850.data import FloatData, IntData

from tests.daemon import Daemon
from tests.integration.gateway import connect, read, write
from tests.integration.mms_gateway import LD, gateway, poll

pytestmark = pytest.mark.slow

FALLBACK = "MaxPow_FSCH10"
AFTER_S = 2.0
RUNNING, NOT_READY = 4, 1
# One 1 h entry of 42 kW at priority 70: what the operator pre-programs (not enabled).
PROGRAM: dict[str, FloatData | IntData] = {
    "ValASG001$setMag$f": FloatData(42.0),
    "NumEntr$setVal": IntData(1),
    "SchdIntv$setVal": IntData(3600),
    "SchdPrio$setVal": IntData(70),
}
TRIGGER = '[[local_triggers]]\nkind = "{kind}"\nafter_s = {after_s}\nschedule = "@Control/{schedule}"\n'


def triggered_gateway(tmp_path: Path, kind: str) -> Any:
    """The daemon with one trigger on the fallback, which SCADA programmed (not enabled) beforehand."""
    state = tmp_path / "state"
    with gateway(state) as (_, args):
        client = connect(args.mms_port)
        for item, value in PROGRAM.items():
            write(client, LD, f"{FALLBACK}$SP${item}", value)
        client.close()
    toml = tmp_path / "gw.toml"
    toml.write_text(TRIGGER.format(kind=kind, after_s=AFTER_S, schedule=FALLBACK))
    return gateway(state, extra=("--config", str(toml)))


def fallback_state(daemon: Daemon) -> tuple[int, str | None]:
    """(SchdSt of the fallback, source of MaxPow_FSCC1) from `/api/status`: no MMS association needed."""
    port = next(line["port"] for line in daemon.lines if line.get("event") == "http listening")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
        status = json.load(reply)
    state = next(s["state"] for s in status["schedules"] if s["ref"].endswith(FALLBACK))
    source = next(c["source"] for c in status["controllers"] if c["ref"].endswith("MaxPow_FSCC1"))
    return state, source


def local_audit(daemon: Daemon) -> list[tuple[str, str, str]]:
    return [
        (line["peer"], line["object"].rpartition("/")[2], line["result"])
        for line in daemon.lines
        if line.get("event") == "audit" and line.get("protocol") == "local"
    ]


def test_no_mms_client_runs_the_fallback_after_n_s_and_a_returning_client_stops_it(tmp_path: Path) -> None:
    with triggered_gateway(tmp_path, "no_mms_client") as (daemon, args):
        started = time.monotonic()
        state = poll(lambda: fallback_state(daemon), lambda s: s[0] == RUNNING, AFTER_S + 3, "running")
        assert time.monotonic() - started >= AFTER_S - 0.5  # not before N s alone (start-up counts)
        assert state == (RUNNING, f"{LD}/{FALLBACK}")
        client = connect(args.mms_port)  # SCADA is back
        try:
            poll(lambda: read(client, f"{FALLBACK}$ST$SchdSt$stVal"), lambda s: s == NOT_READY, 2, "stopped")
            assert read(client, "MaxPow_FSCC1$ST$ActSchdRef$stVal") == f"{LD}/MaxPow_Res_FSCH01"
        finally:
            client.close()
        left = time.monotonic()
        poll(lambda: fallback_state(daemon)[0], lambda s: s == RUNNING, AFTER_S + 3, "running again")
        assert time.monotonic() - left >= AFTER_S - 0.5
    peer = "trigger:no_mms_client"
    assert local_audit(daemon) == [
        (peer, f"{FALLBACK}.StrTm01.setTm", "accepted"),
        (peer, f"{FALLBACK}.EnaReq", "accepted"),
        (peer, f"{FALLBACK}.DsaReq", "accepted"),
        (peer, f"{FALLBACK}.StrTm01.setTm", "accepted"),
        (peer, f"{FALLBACK}.EnaReq", "accepted"),
    ]


def test_startup_runs_the_fallback_for_n_s_visible_over_mms(tmp_path: Path) -> None:
    with triggered_gateway(tmp_path, "startup") as (_, args):
        client = connect(args.mms_port)  # a client present changes nothing for this trigger
        try:
            assert read(client, f"{FALLBACK}$ST$SchdSt$stVal") == RUNNING
            assert read(client, "MaxPow_FSCC1$ST$ActSchdRef$stVal") == f"{LD}/{FALLBACK}"
            assert read(client, "MaxPow_FSCC1$MX$ValMV$mag$f") == 42.0
            poll(lambda: read(client, f"{FALLBACK}$ST$SchdSt$stVal"), lambda s: s == NOT_READY, AFTER_S + 2,
                 "stopped after N s")  # fmt: skip
        finally:
            client.close()
