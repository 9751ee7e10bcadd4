"""Proxy mode: the station stays on its operator's CSMS, the gateway relays and its grid limit wins."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from relevent.demo.ocpp_station import StationOptions
from relevent.lan.driver import DeviceHealth
from relevent.ports import free_port
from tests.lan.ocpp.conftest import Site, installed, intent, site
from tests.lan.ocpp.upstream import operator_csms

STATION = "cs-1"


@asynccontextmanager
async def proxied(port: int, entry: dict[str, Any] | None = None, **section: Any) -> AsyncIterator[Site]:
    """The driver with `STATION` proxied to the operator on `port` (`entry`: more of its options)."""
    stations = {STATION: {"upstream_url": f"ws://127.0.0.1:{port}/csms", **(entry or {})}}
    async with site(stations=stations, **section) as s:
        yield s


def refused(s: Site, action: str) -> float:
    value = s.driver.metrics.registry.get_sample_value(
        "relevent_ocpp_upstream_refused_total", {"station": STATION, "action": action}
    )
    return value or 0.0


async def test_a_transaction_is_relayed_both_ways_and_the_gateway_reads_it_too() -> None:
    async with operator_csms() as csms, proxied(csms.port) as s:
        s.start(StationOptions(station_id=STATION, meter_interval_s=0.5))
        await csms.wait(lambda: csms.actions().count("TransactionEvent") >= 3)
        assert csms.actions()[0] == "BootNotification"  # the operator sees the station from its boot
        events = [p["event_type"] for a, p in csms.calls if a == "TransactionEvent"]
        assert events[0] == "Started"
        assert set(events[1:]) == {"Updated"}
        await s.reports.wait(lambda: s.reports.power(STATION) is not None)  # the gateway reads them too
        assert s.driver.stations[STATION].evse(1).transaction_id is not None


async def test_the_operator_may_not_use_the_gateways_levels_or_the_station_maximum() -> None:
    async with operator_csms() as csms, proxied(csms.port) as s:
        station = s.start(StationOptions(station_id=STATION))
        s.driver.apply(intent(STATION, 1, w_max_lim=7000.0))
        await s.reports.health_of(STATION, 1)
        await csms.wait(lambda: csms.session is not None)
        assert csms.session is not None
        on_level_1 = await csms.session.set_profile(50, "TxDefaultProfile", 1, 11000.0)
        station_max = await csms.session.set_profile(51, "ChargingStationMaxProfile", 5, 11000.0)
        own_id = await csms.session.set_profile(2, "TxDefaultProfile", 3, 11000.0)
        assert [a.status for a in (on_level_1, station_max, own_id)] == ["Rejected"] * 3
        assert on_level_1.status_info == {"reason_code": "ReservedByGateway"}
        assert refused(s, "SetChargingProfile") == 3.0
        passed = await csms.session.set_profile(52, "TxDefaultProfile", 3, 11000.0)
        assert passed.status == "Accepted"
        assert installed(station)[52]["stack_level"] == 3  # other levels pass through to the station


async def test_the_grid_limit_wins_over_the_operators_higher_one() -> None:
    async with operator_csms() as csms, proxied(csms.port) as s:
        station = s.start(StationOptions(station_id=STATION))
        await csms.wait(lambda: csms.session is not None)
        assert csms.session is not None
        await csms.wait(lambda: "TransactionEvent" in csms.actions())
        tx = station.evses[1].transaction_id
        # the operator's transaction profile would replace any TxDefaultProfile of the gateway's
        answer = await csms.session.set_profile(60, "TxProfile", 3, 11000.0, evse_id=1, transaction_id=tx)
        assert answer.status == "Accepted"
        s.driver.apply(intent(STATION, 1, w_max_lim=4140.0, on=True))
        report = await s.reports.health_of(STATION, 1)
        assert report.health is DeviceHealth.APPLIED, report
        await s.reports.wait(lambda: s.reports.power(STATION) == 4140.0)
        ours = {p["charging_profile_purpose"] for i, p in installed(station).items() if i != 60}
        assert ours == {"ChargingStationMaxProfile"}  # every gateway layer on the maximum
        s.driver.apply(intent(STATION, 2, on=False))  # a pause wins over the operator's profile too
        await s.reports.wait(lambda: s.reports.power(STATION) == 0.0)


async def test_the_stations_credentials_go_to_its_operator(tmp_path: Path) -> None:
    secret = b"0123456789abcdef"
    key = tmp_path / "cs-1-key"
    key.write_bytes(secret)
    async with operator_csms() as csms, proxied(csms.port, {"password_file": key}) as s:
        s.start(StationOptions(station_id=STATION, password=secret))
        await csms.wait(lambda: bool(csms.authorization))
    assert csms.authorization == ["Basic " + base64.b64encode(f"{STATION}:".encode() + secret).decode()]


async def test_an_operator_outage_keeps_local_control_and_replays_nothing() -> None:
    port = free_port()
    async with proxied(port, upstream_retry_s=0.2) as s:
        async with operator_csms(port) as first:
            station = s.start(StationOptions(station_id=STATION, meter_interval_s=0.3))
            await first.wait(lambda: "TransactionEvent" in first.actions())
        # the operator is gone: the gateway answers the station and still steers it
        s.driver.apply(intent(STATION, 1, w_max_lim=5000.0))
        report = await s.reports.health_of(STATION, 1)
        assert report.health is DeviceHealth.APPLIED, report
        await s.reports.wait(lambda: s.reports.power(STATION) == 5000.0)
        sent_in_outage = station.evses[1].seq_no
        async with operator_csms(port) as second:
            await second.wait(lambda: "TransactionEvent" in second.actions())
            seq_nos = [p["seq_no"] for a, p in second.calls if a == "TransactionEvent"]
        assert seq_nos[0] >= sent_in_outage  # nothing from the outage replayed
        assert station.connection is not None  # the station never lost its CSMS
        assert station.boots == 1
