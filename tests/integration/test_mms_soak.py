"""Four clients (two libiec61850 processes, two open61850) work the real gateway at once for 30 s: as many
as may associate at once (issue #16 keeps the fifth of libiec61850's slots free for the next client)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from open61850.data import FloatData, IntData, TimestampData
from open61850.mms import InformationReport, MmsClient, ObjectName, decode_report, is_report, operate, rcb

from tests.integration.mms_gateway import LD, gateway, iec_client, open_client
from tests.mms.iec_client import IecClient

SOAK_S = 30.0
CHUNK_S = 10.0  # one libiec61850 request to its process runs this long (below its answer timeout)
ENTRIES = 40  # a 1 s schedule running through the whole soak


def _iec_worker(iec: IecClient, operation: str, *args: object) -> Callable[[], tuple[int, list[str]]]:
    def work() -> tuple[int, list[str]]:
        done, failures = 0, list[str]()
        for _ in range(int(SOAK_S / CHUNK_S)):
            count, failed = iec.call_blocking("repeat_for", operation, args, CHUNK_S)
            done, failures = done + count, failures + failed
        return done, failures

    return work


def _open_worker(step: Callable[[int], None]) -> Callable[[], tuple[int, list[str]]]:
    def work() -> tuple[int, list[str]]:
        done, until = 0, time.monotonic() + SOAK_S
        while time.monotonic() < until:
            step(done)
            done += 1
        return done, []  # a refused request raises

    return work


def _program(client: MmsClient, schedule: str, entries: int, start: datetime) -> None:
    writes: list[tuple[str, FloatData | IntData | TimestampData]] = [
        *((f"{schedule}$SP$ValASG{i:03d}$setMag$f", FloatData(float(i))) for i in range(1, entries + 1)),
        (f"{schedule}$SP$NumEntr$setVal", IntData(entries)),
        (f"{schedule}$SP$SchdIntv$setVal", IntData(1)),
        (f"{schedule}$SP$SchdPrio$setVal", IntData(40)),
        (f"{schedule}$SP$StrTm01$setTm", TimestampData(start)),
    ]
    for item, value in writes:
        client.write(ObjectName(item, LD), value)
    operate(client, f"{LD}/{schedule}.EnaReq", True)


@pytest.mark.slow
@pytest.mark.timeout(SOAK_S + 60)
def test_four_clients_for_30_seconds_without_an_error_or_a_crash(tmp_path: Path) -> None:
    reported: list[tuple[Any, Any]] = []  # (value, t) of every data-change/update report
    lock = threading.Lock()

    def on_report(message: InformationReport) -> None:
        if is_report(message):
            for entry in decode_report(message).entries:
                gi = entry.reason is not None and entry.reason.general_interrogation
                if entry.reference == f"{LD}/ActPow_FSCC1$MX$ValMV" and not gi:
                    with lock:
                        value, _, stamp = entry.value.members[:3]  # type: ignore[union-attr]
                        reported.append((value.members[0].value, stamp.value))  # type: ignore[union-attr]

    toml = tmp_path / "gw.toml"
    toml.write_text("[mms]\nmax_connections_per_peer = 4\n")  # every client comes from 127.0.0.1
    with gateway(tmp_path / "state", extra=("--config", str(toml))) as (daemon, args):
        port = args.mms_port
        with (
            iec_client(port) as writer,
            open_client(port, on_report) as operator,  # and the watcher of the reports
            open_client(port) as reader,
        ):
            time.sleep(0.2)  # staggered: libiec61850 clients connecting at once can lose their connection
            with iec_client(port) as poller:
                rcb.enable(
                    operator,
                    ObjectName("LLN0$RP$urcbSched01", LD),
                    rcb.RcbSettings(trg_ops=None, opt_flds=None, intg_pd_ms=None),
                )
                start = math.ceil(time.time()) + 3  # after the writes and the enable, even on a busy machine
                _program(
                    operator,
                    "ActPow_FSCH08",
                    ENTRIES,
                    datetime.fromtimestamp(start, UTC),
                )
                _program(operator, "MaxPow_FSCH03", 2, datetime.fromtimestamp(time.time() + 3600, UTC))

                def operate_step(n: int) -> None:
                    operate(operator, f"{LD}/MaxPow_FSCH03.{'DsaReq' if n % 2 else 'EnaReq'}", True)

                def read_step(n: int) -> None:
                    reader.read(ObjectName("ActPow_FSCH08$ST$SchdEntr", LD))
                    reader.write(
                        ObjectName("MaxPow_FSCH03$SP$ValASG001$setMag$f", LD), FloatData(float(n % 50))
                    )

                workers = [
                    _iec_worker(writer, "write", f"{LD}/ActPow_FSCH07.SchdPrio.setVal", "SP", 7),
                    _iec_worker(poller, "read", f"{LD}/ActPow_FSCC1.ValMV", "MX"),
                    _open_worker(operate_step),
                    _open_worker(read_step),
                ]
                with ThreadPoolExecutor(len(workers)) as pool:
                    results = [future.result() for future in [pool.submit(work) for work in workers]]
    assert [failures for _, failures in results] == [[]] * len(workers)
    assert min(count for count, _ in results) > 100, results
    with lock:
        values = list(reported)
    # every entry reported once, with its nominal boundary (the GI excluded)
    expected = [(float(i), datetime.fromtimestamp(start + i - 1, UTC)) for i in range(1, len(values) + 1)]
    assert sorted(values) == expected, values[:4]
    assert len(values) > SOAK_S - 5
    assert not [line for line in daemon.lines if line.get("level") in {"error", "critical"}]
