"""A device flooding the broker is rate-limited; the other devices and the gateway's commands get through."""

from __future__ import annotations

import json
import time

from relevent.lan.registry import Device, DeviceRegistry
from tests.mosquitto import Broker, mqtt_client, wait_until
from tests.mqtt.conftest import ACT, Recorder, bridge_config, make_bridge, output, running, sample

DEV = "relevent/v1/gw1/dev"
FLOOD = 1000
RATE, BURST = 5.0, 10
EVERY = 100  # one message of the well-behaved device per this many of the flood


def meas(w: float) -> bytes:
    return json.dumps({"ts": "2026-11-26T10:00:00Z", "w": w}).encode()


async def test_a_flooding_device_is_rate_limited_while_another_device_and_the_commands_get_through(
    broker: Broker,
) -> None:
    registry = DeviceRegistry.of([Device(d, "battery", {"w_set": ACT}) for d in ("bat1", "evse1")])
    sinks = Recorder()
    config = bridge_config(broker, device_msg_rate=RATE, device_msg_burst=BURST)
    bridge = make_bridge(config, registry, measurements=sinks)
    commands = [f"{DEV}/{d}/ctl/set" for d in ("bat1", "evse1")]
    async with mqtt_client(broker, *commands) as (client, inbox), running(bridge):
        await inbox.next()
        await inbox.next()  # the commands sent on connecting
        started = time.monotonic()
        for n in range(FLOOD):
            await client.publish(f"{DEV}/bat1/meas", meas(n), qos=1)
            if n % EVERY == 0:
                await client.publish(f"{DEV}/evse1/meas", meas(n), qos=1)
            if n == FLOOD // 2:
                bridge.on_output(output(ACT, 42.0))
        received = [await inbox.next() for _ in commands]

        def flooder_counted() -> int:
            return len([m for m in sinks.measurements if m.device_id == "bat1"])

        def rate_limited(source: str) -> float:
            return sample(bridge, "relevent_mqtt_inbound_rate_limited_total", source=source)

        await wait_until(lambda: flooder_counted() + rate_limited("bat1") == FLOOD)
        elapsed = time.monotonic() - started
    # The command of the output change reached both devices while the flood ran.
    assert {(m.topic.value, json.loads(m.payload)["w_set"]) for m in received} == {
        (c, 42.0) for c in commands
    }
    # Every message of the well-behaved device, in order; none of its messages was refused.
    assert [m.w for m in sinks.measurements if m.device_id == "evse1"] == list(range(0, FLOOD, EVERY))
    assert rate_limited("evse1") == 0
    # The flooder got its burst and its rate over the time it flooded, nothing more.
    assert BURST <= flooder_counted() <= BURST + RATE * elapsed + 1
    assert sample(bridge, "relevent_mqtt_inbound_rejected_total", kind="any", reason="overload") == 0
