"""A device that answers for another device is refused, counted and reported to the audit (issue #7).

The broker's ACL normally drops such a publish before the gateway sees it (tests/mqtt/test_acl*); this is
what the gateway itself can tell when the ACL is missing or two devices share a credential: an ack on one
device's topic for a command id only the other device received.
"""

from __future__ import annotations

import json

from relevent.lan.registry import Device, DeviceRegistry
from tests.mosquitto import Broker, mqtt_client, wait_until
from tests.mqtt.conftest import ACT, bridge_config, make_bridge, running, sample

DEV = "relevent/v1/gw1/dev"
ACKS = "relevent_mqtt_acks_total"


class Spoofs:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def on_spoofed(self, device_id: str, sent_to: str, topic: str) -> None:
        self.seen.append((device_id, sent_to, topic))


async def test_an_ack_for_another_devices_command_is_refused_and_reported(broker: Broker) -> None:
    spoofs = Spoofs()
    registry = DeviceRegistry.of([
        Device("bat1", "battery", {"w_set": ACT}),
        Device("evse1", "ev_charger", {"w_set": ACT}),
    ])  # fmt: skip
    bridge = make_bridge(bridge_config(broker, ack_timeout_s=30), registry, spoofing=spoofs)
    async with mqtt_client(broker, f"{DEV}/bat1/ctl/set") as (bat1, inbox), running(bridge):
        ack = json.dumps({"id": (await inbox.next_json())["id"], "result": "accepted"})
        await bat1.publish(f"{DEV}/evse1/ctl/ack", ack, qos=1)
        await wait_until(lambda: bool(spoofs.seen))
        # The command is still bat1's to answer: its own ack is matched afterwards.
        await bat1.publish(f"{DEV}/bat1/ctl/ack", ack, qos=1)
        await wait_until(lambda: bool(sample(bridge, ACKS, device="bat1", result="accepted")))
    assert spoofs.seen == [("evse1", "bat1", f"{DEV}/evse1/ctl/ack")]
    assert sample(bridge, "relevent_mqtt_inbound_rejected_total", kind="ack", reason="spoofed") == 1
    assert sample(bridge, ACKS, device="evse1", result="accepted") == 0
