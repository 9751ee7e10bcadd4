"""Schedules written, enabled and refused over MMS on the real gateway, by both independent clients.

Spec sections 2-6: 1 s entries followed by SchdSt, SchdEntr, ValMV, the controller and its GGIO target;
enable validation (SchdEnaErr 2, 3, 4, 6); the locked reserve; an unknown CtlEnt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from open61850.data import BoolData, FloatData, IntData, TimestampData, VisibleStringData
from open61850.mms import ControlError, DataAccessError, MmsClient, ObjectName, operate

from tests.daemon import Daemon, GatewayArgs
from tests.integration.mms_gateway import LD, gateway, iec_client, open_client, open_value, poll
from tests.mms.iec_client import IecClient

ACCESS_DENIED, VALUE_INVALID = 21, 32  # IedClientError
OPEN_ACCESS_DENIED, OPEN_VALUE_INVALID = 3, 11  # MMS DataAccessError
INCONSISTENT_PARAMETERS = 26  # AddCause
RESERVE_VALUE = 0.0  # of the default model's reserve schedules


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, GatewayArgs]]:
    """One gateway on the default model for the whole module; every test uses its own schedules."""
    with gateway(tmp_path_factory.mktemp("state")) as running:
        yield running


@pytest.fixture(scope="module")
def iec(served: tuple[Daemon, GatewayArgs]) -> Iterator[IecClient]:
    with iec_client(served[1].mms_port) as client:
        yield client


@pytest.fixture(scope="module")
def client(served: tuple[Daemon, GatewayArgs]) -> Iterator[MmsClient]:
    with open_client(served[1].mms_port) as connected:
        yield connected


def _next_start(lead_s: float = 1.5) -> datetime:
    """A whole second at least `lead_s` ahead: time to enable before the run begins."""
    return datetime.fromtimestamp(math.ceil(time.time() + lead_s), UTC)


def _do(iec: IecClient, ref: str, fc: str) -> tuple[Any, int, datetime]:
    """(value, q, t) of a status or measured DO read with libiec61850; `mag`/`mxVal` unwrapped."""
    value, err = iec.call_blocking("read", ref, fc)
    assert err == 0, (ref, err)
    first, quality, stamp = value[:3]
    return (first[0] if isinstance(first, tuple) else first), quality, stamp


def test_a_schedule_written_and_enabled_with_libiec61850_runs_its_1s_entries(iec: IecClient) -> None:
    fsch, fscc, ggio = f"{LD}/ActPow_FSCH01", f"{LD}/ActPow_FSCC1", f"{LD}/ActPow_GGIO1"
    start = _next_start()
    writes: list[tuple[str, float | int | datetime]] = [
        *((f"{fsch}.ValASG00{i}.setMag.f", 100.0 * i) for i in (1, 2, 3)),
        (f"{fsch}.NumEntr.setVal", 3),
        (f"{fsch}.SchdIntv.setVal", 1),
        (f"{fsch}.SchdPrio.setVal", 50),
        (f"{fsch}.StrTm01.setTm", start),
    ]
    for ref, value in writes:
        assert iec.call_blocking("write", ref, "SP", value) == 0, ref
    assert iec.call_blocking("operate", f"{fsch}.EnaReq", True) == (True, 0, 0)
    assert _do(iec, f"{fsch}.SchdSt", "ST")[0] == 3  # READY until the start

    samples = []
    while time.time() < start.timestamp() + 3.5:
        samples.append({
            "state": _do(iec, f"{fsch}.SchdSt", "ST")[0],
            "entry": _do(iec, f"{fsch}.SchdEntr", "ST")[0],
            "value": _do(iec, f"{fsch}.ValMV", "MX"),
            "output": _do(iec, f"{fscc}.ValMV", "MX"),
            "active": _do(iec, f"{fscc}.ActSchdRef", "ST")[0],
            "target": _do(iec, f"{ggio}.AnOut1", "MX")[0],
        })  # fmt: skip
        time.sleep(0.02)

    running = [s for s in samples if s["state"] == 4]
    entries: dict[Any, dict[str, Any]] = {}
    for sample in running:  # a sample is six reads: the first of an entry lies well inside it, the last
        if sample["entry"]:  # may straddle the end of the run (state read before it, entry 0 after it)
            entries.setdefault(sample["entry"], sample)
    assert sorted(entries) == [1, 2, 3]
    for entry, sample in entries.items():
        nominal = start + timedelta(seconds=entry - 1)
        assert sample["value"] == (100.0 * entry, 0, nominal)  # q good, t the nominal boundary
    outputs = {s["output"] for s in running if s["active"] == fsch}
    assert {(100.0 * e, 0, start + timedelta(seconds=e - 1)) for e in (1, 2, 3)} <= outputs
    assert {100.0, 200.0, 300.0} <= {s["target"] for s in running}  # the CtlEnt (APC mxVal.f) follows
    last = samples[-1]
    assert (last["state"], last["active"], last["target"]) == (1, f"{LD}/ActPow_Res_FSCH01", RESERVE_VALUE)
    assert last["output"] == (RESERVE_VALUE, 0, start + timedelta(seconds=3))
    consumed, err = iec.call_blocking("read", f"{fsch}.StrTm01.setTm", "SP")
    assert (consumed, err) == (datetime.fromtimestamp(0, UTC), 0)  # SchdReuse false: consumed


def test_a_schedule_written_and_enabled_with_open61850_runs_its_1s_entries(client: MmsClient) -> None:
    start = _next_start()
    writes: list[tuple[str, FloatData | IntData | TimestampData]] = [
        *((f"MaxPow_FSCH01$SP$ValASG00{i}$setMag$f", FloatData(10.0 * i)) for i in (1, 2)),
        ("MaxPow_FSCH01$SP$NumEntr$setVal", IntData(2)),
        ("MaxPow_FSCH01$SP$SchdIntv$setVal", IntData(1)),
        ("MaxPow_FSCH01$SP$SchdPrio$setVal", IntData(20)),
        ("MaxPow_FSCH01$SP$StrTm01$setTm", TimestampData(start)),
    ]
    for item, value in writes:
        client.write(ObjectName(item, LD), value)
    operate(client, f"{LD}/MaxPow_FSCH01.EnaReq", True)

    def state() -> tuple[Any, ...]:
        return (
            open_value(client, "MaxPow_FSCH01$ST$SchdEntr$stVal"),
            open_value(client, "MaxPow_FSCC1$MX$ValMV$mag$f"),
            open_value(client, "MaxPow_FSCC1$ST$ActSchdRef$stVal"),
            open_value(client, "MaxPow_GGIO1$MX$AnOut1$mxVal$f"),
        )

    own = f"{LD}/MaxPow_FSCH01"
    assert poll(state, lambda s: s[0] == 1, 4, "first entry") == (1, 10.0, own, 10.0)
    assert poll(state, lambda s: s[0] == 2, 2, "second entry") == (2, 20.0, own, 20.0)
    after = poll(state, lambda s: s[0] == 0, 2, "end of the run")
    assert after == (0, RESERVE_VALUE, f"{LD}/MaxPow_Res_FSCH01", RESERVE_VALUE)
    assert time.time() >= start.timestamp() + 2


@pytest.mark.parametrize(
    ("schedule", "writes", "schd_ena_err"),
    [
        ("ActPow_FSCH02", {"NumEntr.setVal": 0}, 2),
        ("ActPow_FSCH03", {"NumEntr.setVal": 1, "SchdIntv.setVal": 0, "StrTm01.setTm": "ahead"}, 3),
        ("ActPow_FSCH04", {"NumEntr.setVal": 2, "ValASG002.setMag.f": math.nan, "SchdIntv.setVal": 1}, 4),
        ("ActPow_FSCH05", {"NumEntr.setVal": 1, "SchdIntv.setVal": 1}, 6),  # no start time
    ],
)
def test_an_enable_with_invalid_content_is_refused_with_its_schd_ena_err(
    iec: IecClient, client: MmsClient, schedule: str, writes: dict[str, Any], schd_ena_err: int
) -> None:
    for leaf, value in writes.items():
        written = _next_start(60) if value == "ahead" else value
        assert iec.call_blocking("write", f"{LD}/{schedule}.{leaf}", "SP", written) == 0, leaf
    accepted, err, add_cause = iec.call_blocking("operate", f"{LD}/{schedule}.EnaReq", True)
    assert (accepted, err, add_cause) == (False, VALUE_INVALID, INCONSISTENT_PARAMETERS)
    assert iec.call_blocking("read", f"{LD}/{schedule}.SchdEnaErr.stVal", "ST") == (schd_ena_err, 0)
    assert iec.call_blocking("read", f"{LD}/{schedule}.SchdSt.stVal", "ST") == (1, 0)
    with pytest.raises(ControlError) as refused:  # the other client sees the same answer
        operate(client, f"{LD}/{schedule}.EnaReq", True)
    assert refused.value.last_appl_error is not None
    assert refused.value.last_appl_error.add_cause == INCONSISTENT_PARAMETERS


@pytest.mark.parametrize("leaf", ["SchdPrio.setVal", "StrTm01.setTm"])
def test_the_reserves_locked_parameters_answer_access_denied(
    iec: IecClient, client: MmsClient, leaf: str
) -> None:
    ref = f"{LD}/ActPow_Res_FSCH01.{leaf}"
    before = iec.call_blocking("read", ref, "SP")
    value: int | datetime = 7 if leaf.startswith("SchdPrio") else _next_start(60)
    assert iec.call_blocking("write", ref, "SP", value) == ACCESS_DENIED
    item = "ActPow_Res_FSCH01$SP$" + leaf.replace(".", "$")
    with pytest.raises(DataAccessError) as denied:
        client.write(ObjectName(item, LD), IntData(7) if isinstance(value, int) else TimestampData(value))
    assert denied.value.code == OPEN_ACCESS_DENIED
    assert iec.call_blocking("read", ref, "SP") == before


def test_the_reserve_cannot_be_disabled_but_its_values_stay_writable(
    iec: IecClient, client: MmsClient
) -> None:
    reserve = f"{LD}/OnOff_Res_FSCH01"
    accepted, err, _ = iec.call_blocking("operate", f"{reserve}.DsaReq", True)
    assert (accepted, err) == (False, ACCESS_DENIED)
    current, _ = iec.call_blocking("read", f"{reserve}.ValSPG001.setVal", "SP")
    client.write(ObjectName("OnOff_Res_FSCH01$SP$ValSPG001$setVal", LD), BoolData(current))  # accepted
    assert iec.call_blocking("read", f"{reserve}.SchdSt.stVal", "ST") == (4, 0)


def test_an_unknown_ctl_ent_is_refused_and_the_server_keeps_serving(
    iec: IecClient, client: MmsClient, served: tuple[Daemon, GatewayArgs]
) -> None:
    ref = f"{LD}/ActPow_FSCC1.CtlEnt.setSrcRef"
    before = iec.call_blocking("read", ref, "SP")
    assert iec.call_blocking("write", ref, "SP", f"{LD}/NoSuch_GGIO1.AnOut1") == VALUE_INVALID
    with pytest.raises(DataAccessError) as invalid:
        client.write(ObjectName("ActPow_FSCC1$SP$CtlEnt$setSrcRef", LD), VisibleStringData("@Control/Nope"))
    assert invalid.value.code == OPEN_VALUE_INVALID
    assert iec.call_blocking("read", ref, "SP") == before
    assert open_value(client, "ActPow_FSCC1$ST$ActSchdRef$stVal") == f"{LD}/ActPow_Res_FSCH01"
    assert served[0].proc.poll() is None


def test_the_reserve_slot_cannot_be_unbound_over_mms(iec: IecClient, client: MmsClient) -> None:
    ref = f"{LD}/ActPow_FSCC1.Schd11.setSrcRef"
    assert iec.call_blocking("write", ref, "SP", "") == ACCESS_DENIED
    with pytest.raises(DataAccessError) as denied:
        client.write(ObjectName("ActPow_FSCC1$SP$Schd11$setSrcRef", LD), VisibleStringData(""))
    assert denied.value.code == OPEN_ACCESS_DENIED
    assert iec.call_blocking("read", ref, "SP") == (f"{LD}/ActPow_Res_FSCH01", 0)


@pytest.mark.parametrize("measurement", ["@Control/MMXU1.TotW", f"{LD}/MMXU1.TotW.mag.f"])
def test_ctl_ent_cannot_name_a_measurement(iec: IecClient, client: MmsClient, measurement: str) -> None:
    ref = f"{LD}/ActPow_FSCC1.CtlEnt.setSrcRef"
    before = iec.call_blocking("read", ref, "SP")
    assert iec.call_blocking("write", ref, "SP", measurement) == VALUE_INVALID
    with pytest.raises(DataAccessError) as invalid:
        client.write(ObjectName("ActPow_FSCC1$SP$CtlEnt$setSrcRef", LD), VisibleStringData(measurement))
    assert invalid.value.code == OPEN_VALUE_INVALID
    assert iec.call_blocking("read", ref, "SP") == before
