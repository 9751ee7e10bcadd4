"""ctl/ack, meas, state and bad input on every inbound topic."""

from __future__ import annotations

import json
import uuid

import aiomqtt
from structlog.testing import capture_logs

from relevent.lan.driver import DeviceHealth
from tests.mosquitto import Broker, Inbox, mqtt_client, wait_until
from tests.mqtt.conftest import ACT, Recorder, bridge_config, make_bridge, one_device, output, running, sample

DEV = "relevent/v1/gw1/dev/bat1"


async def _ack(client: aiomqtt.Client, inbox: Inbox, result: str = "accepted") -> None:
    command = await inbox.next_json()
    await client.publish(f"{DEV}/ctl/ack", json.dumps({"id": command["id"], "result": result}), qos=1)


async def test_acks_are_matched_and_missing_acks_make_the_device_unhealthy(broker: Broker) -> None:
    sinks = Recorder()
    config = bridge_config(broker, heartbeat_s=30, ack_timeout_s=0.2)
    bridge = make_bridge(config, one_device(), health=sinks)
    async with mqtt_client(broker, f"{DEV}/ctl/set") as (client, inbox), running(bridge):
        await _ack(client, inbox)
        await wait_until(
            lambda: sample(bridge, "relevent_mqtt_acks_total", device="bat1", result="accepted") == 1
        )
        assert bridge.device_healthy("bat1")

        bridge.on_output(output(ACT, 100.0))
        await inbox.next()  # not answered
        await wait_until(lambda: not bridge.device_healthy("bat1"))
        assert sample(bridge, "relevent_mqtt_acks_missing_total", device="bat1") == 1
        assert sample(bridge, "relevent_mqtt_device_healthy", device="bat1") == 0

        bridge.on_output(output(ACT, 200.0))
        await _ack(client, inbox, "clamped")
        await wait_until(lambda: bridge.device_healthy("bat1"))
        assert sample(bridge, "relevent_mqtt_device_healthy", device="bat1") == 1

        bridge.on_output(output(ACT, 300.0))
        await _ack(client, inbox, "rejected")
        await wait_until(lambda: not bridge.device_healthy("bat1"))
    assert [health for _, health in sinks.health] == [
        DeviceHealth.APPLIED, DeviceHealth.NOT_ACKNOWLEDGED, DeviceHealth.CLAMPED, DeviceHealth.REJECTED]
    assert sample(bridge, "relevent_mqtt_acks_missing_total", device="bat1") == 1


async def test_measurements_reach_metrics_and_the_sink(broker: Broker) -> None:
    sinks = Recorder()
    bridge = make_bridge(
        bridge_config(broker), one_device(mmxu_ref="DER_Scheduler_Control/MMXU1"), measurements=sinks
    )
    meas = {"ts": "2026-11-26T10:00:00.000Z", "seq": 1, "w": -2500.5, "var": 10.0, "soc_pct": 55.0}
    async with mqtt_client(broker) as (client, _), running(bridge):
        await client.publish(f"{DEV}/meas", json.dumps(meas), qos=1)
        await wait_until(lambda: bool(sinks.measurements))
        await client.publish(f"{DEV}/state", b'{"fallback": true}', qos=1)
        await wait_until(lambda: sample(bridge, "relevent_mqtt_device_fallback", device="bat1") == 1)
    [m] = sinks.measurements
    assert (m.device_id, m.mmxu_ref, m.w, m.var, m.soc_pct) == (
        "bat1",
        "DER_Scheduler_Control/MMXU1",
        -2500.5,
        10.0,
        55.0,
    )
    assert m.ts == 1795687200.0
    assert sample(bridge, "relevent_mqtt_device_power_watts", device="bat1") == -2500.5
    assert sample(bridge, "relevent_mqtt_device_soc_ratio", device="bat1") == 0.55


GARBAGE = [
    ("bat1/meas", b"{not json", "meas", "invalid_json"),
    ("bat1/meas", b'{"ts": "2026-11-26T10:00:00Z"}', "meas", "invalid_payload"),  # w missing
    ("bat1/meas", b'{"ts": "2026-11-26T10:00:00Z", "w": 1, "soc_pct": 140}', "meas", "invalid_payload"),
    ("bat1/meas", b'{"ts": "2026-11-26T10:00:00", "w": 1}', "meas", "invalid_payload"),  # no zone
    ("bat1/meas", b"\xff\xfe", "meas", "invalid_json"),
    ("bat1/state", b'{"fallback": "maybe"}', "state", "invalid_payload"),
    ("bat1/state", b"[]", "state", "invalid_payload"),
    ("bat1/avail", b'{"state": "sleeping"}', "avail", "invalid_payload"),
    ("bat1/avail", b"", "avail", "invalid_json"),
    ("bat1/ctl/ack", b'{"id": "not-a-uuid", "result": "accepted"}', "ack", "invalid_payload"),
    (
        "bat1/ctl/ack",
        json.dumps({"id": str(uuid.uuid4()), "result": "accepted"}).encode(),
        "ack",
        "unknown_command",
    ),
    (
        "bat1/ctl/ack",
        b'{"id": "00000000-0000-0000-0000-000000000000", "result": "ok"}',
        "ack",
        "invalid_payload",
    ),
    ("ghost/meas", b'{"ts": "2026-11-26T10:00:00Z", "w": 1}', "meas", "unknown_device"),
    ("ghost/ctl/ack", b"{}", "ack", "unknown_device"),
]


async def test_garbage_on_every_inbound_topic_is_dropped_and_counted(broker: Broker) -> None:
    sinks = Recorder()
    bridge = make_bridge(bridge_config(broker), one_device(), measurements=sinks)
    kinds_and_reasons = {(k, r) for _, _, k, r in GARBAGE}
    with capture_logs() as logs:
        async with mqtt_client(broker, f"{DEV}/ctl/set") as (client, inbox), running(bridge):
            await inbox.next()
            for leaf, payload, _, _ in GARBAGE:
                await client.publish(f"relevent/v1/gw1/dev/{leaf}", payload, qos=1)

            def counted() -> bool:
                return sum(
                    sample(bridge, "relevent_mqtt_inbound_rejected_total", kind=kind, reason=reason)
                    for kind, reason in kinds_and_reasons
                ) == len(GARBAGE)

            await wait_until(counted)
            bridge.on_output(output(ACT, 42.0))  # still alive and commanding
            assert (await inbox.next_json())["w_set"] == 42.0
    assert sinks.measurements == []
    assert sample(bridge, "relevent_mqtt_inbound_rejected_total", kind="meas", reason="invalid_json") == 2
    # Counted every time, logged once per kind and reason within the throttle's interval.
    rejected = [(e["kind"], e["reason"]) for e in logs if e["event"] == "mqtt message rejected"]
    assert sorted(rejected) == sorted(kinds_and_reasons)
