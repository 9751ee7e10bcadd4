"""Times a peer sends over MQTT are refused at the boundary unless representable (`relevent.timerange`)."""

from __future__ import annotations

import json

from relevent.lan.mqtt.seams import ExtensionAccepted, ExtensionRejected, ExtensionRequest
from tests.mosquitto import Broker, mqtt_client, wait_until
from tests.mqtt.conftest import Recorder, bridge_config, make_bridge, one_device, running, sample

DEV = "relevent/v1/gw1/dev/bat1"
REQUESTS = "site/ems/request"


class Slots:
    """An EMS handler that accepts everything it is handed."""

    def __init__(self) -> None:
        self.requests: list[ExtensionRequest] = []

    async def submit(self, request: ExtensionRequest) -> ExtensionAccepted | ExtensionRejected:
        self.requests.append(request)
        return ExtensionAccepted("DER_Scheduler_Control/MaxPow_FSCH01")


def _request(seconds: int) -> bytes:
    return json.dumps({"direction": "IMPORT", "start": {"seconds": seconds},
                       "resolution": "FIVE_MINUTES", "values": [1000.0]}).encode()  # fmt: skip


async def test_measurement_and_state_times_outside_the_range_are_invalid_payloads(broker: Broker) -> None:
    sinks = Recorder()
    bridge = make_bridge(bridge_config(broker), one_device(), measurements=sinks)
    bad = [
        ("meas", {"ts": "0001-01-01T00:00:00+14:00", "w": 1.0}),  # before year 1 in UTC
        ("meas", {"ts": "2106-02-07T06:28:16Z", "w": 1.0}),  # one second past MMS UtcTime
        ("meas", {"ts": "1969-12-31T23:59:59Z", "w": 1.0}),
        ("state", {"fallback": True, "ts": "9999-12-31T23:59:59-14:00"}),
    ]
    async with mqtt_client(broker) as (client, _), running(bridge):
        for leaf, payload in bad:
            await client.publish(f"{DEV}/{leaf}", json.dumps(payload), qos=1)
        await client.publish(f"{DEV}/meas", json.dumps({"ts": "2106-02-07T06:28:15Z", "w": 2.0}), qos=1)
        await wait_until(lambda: bool(sinks.measurements))

        def rejected(kind: str, reason: str = "invalid_payload") -> float:
            return sample(bridge, "relevent_mqtt_inbound_rejected_total", kind=kind, reason=reason)

        await wait_until(lambda: rejected("meas") + rejected("state") == len(bad))
    assert [m.w for m in sinks.measurements] == [2.0]  # the last representable second is accepted
    assert rejected("meas", "internal_error") == 0
    assert rejected("state", "internal_error") == 0


async def test_an_ems_request_starting_outside_the_range_is_refused_before_its_handler(
    broker: Broker,
) -> None:
    slots = Slots()
    config = bridge_config(broker, ems_request_topic=REQUESTS)
    bridge = make_bridge(config, one_device(), extension_handler=slots)
    async with running(bridge), mqtt_client(broker, f"{REQUESTS}/reply") as (client, inbox):
        await client.publish(REQUESTS, _request(300_000_000_000), qos=1)
        poisoned = await inbox.next_json()
        await client.publish(REQUESTS, _request(2**32 - 1), qos=1)
        last = await inbox.next_json()
    assert (poisoned["result"], poisoned["reason"]) == ("rejected", "invalid_payload")
    assert last["result"] == "accepted"
    assert [r.start for r in slots.requests] == [float(2**32 - 1)]
