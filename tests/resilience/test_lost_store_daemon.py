"""A schedule store found empty after it held state is reported (log and audit), not taken for a first start.

"A zero-length scheduler.sqlite3 starts empty without a warning (a priority of 77 came back as 0)."
"""

from __future__ import annotations

from pathlib import Path

import pytest
from open61850.data import IntData

from relevent.app import STORE_FILE
from tests.integration.gateway import read, write
from tests.integration.mms_gateway import LD, gateway, open_client

pytestmark = pytest.mark.slow

PRIO = "ActPow_FSCH01$SP$SchdPrio$setVal"
LOST = "schedule store is empty but held state before: the SCL model's state is used"


def test_a_truncated_store_is_warned_about_and_audited(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with gateway(state) as (daemon, args), open_client(args.mms_port) as client:
        assert not [line for line in daemon.lines if line["event"] == LOST]  # a first start is no loss
        write(client, LD, PRIO, IntData(77))
    (state / STORE_FILE).write_bytes(b"")  # zero length, as a failing disk or a careless hand leaves it

    with gateway(state) as (daemon, args), open_client(args.mms_port) as client:
        assert read(client, PRIO) == 0  # the state is gone: said, not hidden
        warning = daemon.wait_for(LOST)
        audit = daemon.wait_for("audit")
    assert warning["level"] == "warning"
    assert (audit["protocol"], audit["command"], audit["result"]) == ("store", "restore", "lost")
    assert audit["object"] == STORE_FILE
    assert "every schedule restarts from the SCL" in audit["reason"]

    with gateway(state) as (daemon, _):  # stored again at that start: the next one is quiet
        assert not [line for line in daemon.lines if line["event"] == LOST]
