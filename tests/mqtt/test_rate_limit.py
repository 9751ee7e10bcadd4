"""The token bucket, the log throttle and the per-source admission, on an injected clock."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from relevent.lan.mqtt.admission import OTHER, MessageAdmission, RateLimit
from relevent.lan.mqtt.log_throttle import LogThrottle
from relevent.lan.mqtt.metrics import BridgeMetrics
from relevent.lan.mqtt.ratelimit import TokenBucket
from relevent.lan.mqtt.topics import Topics


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def takes(bucket: TokenBucket, count: int) -> list[bool]:
    return [bucket.take() for _ in range(count)]


def test_a_full_bucket_admits_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=10.0, burst=3, clock=Clock())
    assert takes(bucket, 5) == [True, True, True, False, False]


def test_tokens_accrue_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    takes(bucket, 3)
    clock.now += 0.25  # 2.5 tokens
    assert takes(bucket, 3) == [True, True, False]
    clock.now += 60.0  # far more than the burst
    assert takes(bucket, 4) == [True, True, True, False]


def test_a_clock_going_back_adds_no_tokens_and_removes_none() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=2, clock=clock)
    bucket.take()
    clock.now -= 5.0
    assert takes(bucket, 2) == [True, False]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 5), (-1.0, 5), (10.0, 0)])
def test_a_bucket_that_could_never_admit_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate, burst, Clock())


def test_the_throttle_lets_one_event_per_key_and_interval_and_counts_the_others() -> None:
    clock = Clock()
    throttle = LogThrottle(10.0, clock)
    assert throttle.let("a") == 0
    assert [throttle.let("a") for _ in range(3)] == [None, None, None]
    assert throttle.let("b") == 0  # keys are independent
    clock.now += 10.0
    assert throttle.let("a") == 3
    assert throttle.let("a") is None
    clock.now += 10.0
    assert throttle.let("a") == 1


ROOT = "relevent/v1/gw1/dev"
EMS = "site/ems/request"


def admission(clock: Clock) -> tuple[MessageAdmission, BridgeMetrics]:
    metrics = BridgeMetrics(CollectorRegistry())
    gate = MessageAdmission(
        Topics("relevent/v1", "gw1"), ["bat1", "evse1"], RateLimit(rate=5.0, burst=2), metrics,
        own_topics={EMS: RateLimit(rate=0.5, burst=1)}, clock=clock,
    )  # fmt: skip
    return gate, metrics


def rate_limited(metrics: BridgeMetrics, source: str) -> float:
    value = metrics.registry.get_sample_value("relevent_mqtt_inbound_rate_limited_total", {"source": source})
    return 0.0 if value is None else value


def test_each_device_has_its_own_budget_and_its_drops_are_counted_under_its_name() -> None:
    gate, metrics = admission(Clock())
    flood = [gate.admit(f"{ROOT}/bat1/meas") for _ in range(10)]
    assert flood == [True, True] + [False] * 8
    assert rate_limited(metrics, "bat1") == 8
    # Every topic of the device shares its budget; the other device's is untouched.
    assert not gate.admit(f"{ROOT}/bat1/ctl/ack")
    assert [gate.admit(f"{ROOT}/evse1/{leaf}") for leaf in ("meas", "ctl/ack")] == [True, True]
    assert rate_limited(metrics, "evse1") == 0


def test_unknown_devices_share_one_budget_and_the_ems_topic_has_its_own() -> None:
    gate, metrics = admission(Clock())
    unknown = [gate.admit(f"{ROOT}/ghost{n}/meas") for n in range(4)] + [gate.admit("stray/topic")]
    assert unknown == [True, True, False, False, False]
    assert rate_limited(metrics, OTHER) == 3
    assert [gate.admit(EMS) for _ in range(3)] == [True, False, False]  # a request costs more: its own limit
    assert rate_limited(metrics, EMS) == 2


def test_a_device_within_its_rate_is_never_refused() -> None:
    clock = Clock()
    gate, metrics = admission(clock)
    for _ in range(100):  # 5 messages per second for 20 s
        assert gate.admit(f"{ROOT}/bat1/meas")
        clock.now += 0.2
    assert rate_limited(metrics, "bat1") == 0


def test_drops_are_logged_once_per_interval_with_their_count() -> None:
    clock = Clock()
    gate, _ = admission(clock)
    with capture_logs() as logs:
        for _ in range(2 + 50):  # the burst passes; the first drop is logged, the 49 after it are not
            gate.admit(f"{ROOT}/bat1/meas")
        clock.now += 10.0  # the burst again, then the next drop is logged: 49 + itself since the last line
        for _ in range(2 + 1 + 30):
            gate.admit(f"{ROOT}/bat1/meas")
    event = "mqtt source over its message rate, messages dropped"
    assert [(e["source"], e["dropped"]) for e in logs if e["event"] == event] == [("bat1", 1), ("bat1", 50)]
