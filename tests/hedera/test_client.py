"""The HTTP side against the fake HEDERA on fake time: tokens, retries, reconciling a POST, paging, Sunset."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from relevent.demo.hedera_server import FakeHedera, Script
from relevent.wan.hedera.client import HederaAuthError, HederaClient, HederaError
from relevent.wan.hedera.metrics import HederaMetrics
from tests.hedera.conftest import EXPORT_MRID, IMPORT_MRID, Rigs, section_for
from tests.pki import Pki
from tests.scheduler.factory import BASE

pytestmark = pytest.mark.looptime(start=0)

START = BASE + 3600


async def test_a_token_expiring_mid_poll_is_fetched_once_and_the_call_retried(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=3))
    rig.request([4200.0], start=START)
    await rig.published.wait_for("pending")
    rig.fake.expire_tokens()
    await rig.published.wait_for("accepted")
    assert rig.fake.token_requests == 2
    assert [c.status for c in rig.fake.calls_to("get")].count(401) == 1


async def test_ten_concurrent_calls_share_one_token_refresh(rigs: Rigs) -> None:
    rig = await rigs()
    client = rig.lifecycle._client
    deadline = rig.h.clock.now() + 60
    await asyncio.gather(*(client.list_schedules(("Accepted",), deadline) for _ in range(10)))
    assert rig.fake.token_requests == 1
    rig.fake.expire_tokens()
    await asyncio.gather(*(client.list_schedules(("Accepted",), deadline) for _ in range(10)))
    assert rig.fake.token_requests == 2


async def test_a_refused_secret_raises_an_alarm_without_a_tight_loop(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.rotate_secret()
    client = rig.lifecycle._client
    for _ in range(5):
        with pytest.raises(HederaAuthError, match="invalid_client"):
            await client.list_schedules(("Accepted",), rig.h.clock.now() + 60)
    assert rig.fake.token_requests == 1  # the next try waits max_backoff_s
    assert rig.lifecycle.auth_failed
    await asyncio.sleep(61)
    with pytest.raises(HederaAuthError):
        await client.list_schedules(("Accepted",), rig.h.clock.now() + 60)
    assert rig.fake.token_requests == 2


@pytest.mark.parametrize("directives", [True, False])
async def test_a_grant_in_use_goes_firm_once_the_token_is_refused_past_the_deadline(
    rigs: Rigs, directives: bool
) -> None:
    rig = await rigs()
    if not directives:  # then a read is due every refresh_interval_s, firm after grant_stale_after_s
        rig.fake.refresh_window = None
    rig.fake.script(Script(polls=0))
    rig.request([4200.0], start=rig.h.clock.now() + 60)
    await rig.published.wait_for("accepted")
    rig.fake.rotate_secret()
    rig.fake.expire_tokens()
    last_read = rig.fake.calls_to("get")[-1].at
    deadline = rig.fake.issued[-1][4] if directives else last_read + 600
    fallback = await rig.published.wait_for("fallback")
    assert fallback["ts"] >= deadline
    assert fallback["ts"] <= deadline + 20
    assert rig.lifecycle.fallback_active
    assert rig.output() == pytest.approx(1.0)  # firm capacity, 1000 W in kW


async def test_5xx_bursts_and_429_with_retry_after_are_retried_within_the_deadline(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=1))
    rig.fake.fail("get", 503, times=3)
    rig.fake.fail("get", 429, times=1, retry_after=7)
    rig.fake.fail("list", 502, times=2, body="garbage")
    rig.request([4200.0], start=START)
    await rig.published.wait_for("accepted")
    statuses = [c.status for c in rig.fake.calls_to("get")]
    assert statuses[:4] == [503, 503, 503, 429]
    after_429 = rig.fake.calls_to("get")[4].at - rig.fake.calls_to("get")[3].at
    assert after_429 >= 7
    assert "failed" not in rig.published.states()


async def test_a_post_reset_after_it_was_stored_is_adopted_not_repeated(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=0))
    rig.fake.reset("post")
    rig.request([4200.0], start=START)
    accepted = await rig.published.wait_for("accepted")
    assert len(rig.fake.schedules) == 1
    assert len(rig.fake.calls_to("post")) == 1
    assert accepted["hedera_schedule"] == next(iter(rig.fake.schedules))
    assert ("post", "adopted") in [(e.command, e.result) for e in rig.audit]


@pytest.mark.parametrize(("scope", "deleted"), [("overlapping", 5), ("all", 25), ("own", 0)])
async def test_existing_schedules_are_listed_over_every_page_and_cleared_by_scope(
    rigs: Rigs, scope: str, deleted: int
) -> None:
    rig = await rigs(delete_scope=scope)
    rig.fake.script(Script(polls=None))  # they stay Pending
    client = rig.lifecycle._client
    from relevent.wan.hedera.codec import schedule_request  # noqa: PLC0415

    for day in range(25):  # five overlap the new request's period (the first five), twenty lie later
        start = START + (day * 900 if day < 5 else 86400 + day * 900)
        await client.post_schedule(schedule_request(IMPORT_MRID, "I", start, 900, [1.0]),
                                   rig.h.clock.now() + 60)  # fmt: skip
    rig.fake.script(Script(polls=0))
    rig.request([4200.0] * 8, start=START)
    await rig.published.wait_for("declined" if scope == "own" else "accepted")  # own: HEDERA sees the overlap
    pages = [c.query.get("page") for c in rig.fake.calls_to("list")]
    if scope != "own":
        assert pages[:3] == [["0"], ["1"], ["2"]]
    assert len(rig.fake.calls_to("delete")) == deleted
    cancelled = [s for s in rig.fake.schedules.values() if s.state == "Cancelled"]
    assert len(cancelled) == deleted


async def test_a_sunset_header_warns_once_and_sets_the_metric(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.sunset = "Wed, 31 Dec 2025 23:59:59 GMT"
    rig.fake.script(Script(polls=2))
    rig.request([4200.0], start=START)
    await rig.published.wait_for("accepted")
    assert rig.metric("relevent_hedera_api_sunset_timestamp_seconds") == 1767225599.0
    assert rig.lifecycle._client.sunset == rig.fake.sunset
    rig.lifecycle.publish_state()
    assert rig.published.last_state()["sunset"] == rig.fake.sunset


async def test_an_export_request_completes_while_import_hangs(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.script(Script(polls=None), mrid=IMPORT_MRID)
    rig.fake.script(Script(polls=0), mrid=EXPORT_MRID)
    rig.request([4200.0], start=START, rid="import")
    await rig.published.wait_for("pending")
    [pending] = rig.fake.schedules
    rig.fake.hang("get", path=f"/schedule/{pending}")
    rig.request([2000.0], start=START, direction="EXPORT", rid="export")
    accepted = await rig.published.wait_for("accepted")
    assert accepted["id"] == "export"
    assert rig.published.states("import") == ["received", "submitted", "pending"]
    assert rig.fake.calls_to("get")[-1].status == 200  # the export's, while the import's GETs hang


@pytest.mark.looptime(False)  # real time: a TLS handshake is real I/O, and so is the clock here
@pytest.mark.parametrize("trusted", [True, False])
async def test_tls_is_verified_against_the_system_and_the_extra_ca(
    tmp_path: Path, secret: Path, pki: Pki, trusted: bool
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server.cert, pki.server.key)
    fake = FakeHedera(time.time, {IMPORT_MRID: "I"})
    await fake.start(tls=context)
    try:
        section = section_for(fake, secret, ca_file=pki.ca if trusted else None)
        client = HederaClient(section, section.client_secret(), time.time, HederaMetrics(CollectorRegistry()))
        try:
            if trusted:
                assert await client.list_schedules(("Accepted",), time.time() + 5) == []
            else:
                with pytest.raises(HederaError):
                    await client.list_schedules(("Accepted",), time.time() + 5)
                assert fake.token_requests == 0  # the handshake failed: no secret was sent
        finally:
            await client.close()
    finally:
        await fake.stop()


async def test_alarms_reach_the_audit_trail(rigs: Rigs) -> None:
    rig = await rigs()
    rig.fake.sunset = "Wed, 31 Dec 2025 23:59:59 GMT"
    client = rig.lifecycle._client
    await client.list_schedules(("Accepted",), rig.h.clock.now() + 60)
    rig.fake.rotate_secret()
    rig.fake.expire_tokens()
    with pytest.raises(HederaAuthError):
        await client.list_schedules(("Accepted",), rig.h.clock.now() + 60)
    alarms = [(e.object, e.reason) for e in rig.audit if e.command == "alarm"]
    assert alarms == [("sunset", rig.fake.sunset), ("token", "401 invalid_client")]
