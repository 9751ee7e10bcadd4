"""The status page's device view: payloads kept as objects, rendered as the device contract's JSON, each
datum with its age; older than the commands' validity it is stale, also while the broker is away."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from relevent.lan.mqtt.payloads import Command, CommandSources, Measurement, Source
from relevent.lan.mqtt.view import DeviceView
from tests.mosquitto import Broker, mqtt_client, wait_until
from tests.mqtt.conftest import bridge_config, make_bridge, one_device, running

AT = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
DEV = "relevent/v1/gw1/dev/bat1"


def shown(view: DeviceView) -> dict[str, Any]:
    return view.as_json(AT.timestamp(), 60.0, None)


def test_device_view_renders_the_last_command_and_measurement_as_sent_and_received() -> None:
    view = DeviceView("bat1", "battery")
    assert shown(view)["command"] is None
    assert shown(view)["measurement"] is None
    view.command = Command(
        id=UUID(int=7), seq=3, ts=AT, valid_until=AT, w_set=2500.0, w_max_lim=None, on=True,
        src=CommandSources(w_set=Source(schedule="LD/ActPow_FSCH01", prio=42)),
    )  # fmt: skip
    view.measurement = Measurement(ts=AT, w=-1200.5)
    assert shown(view)["command"] == {
        "id": "00000000-0000-0000-0000-000000000007", "seq": 3, "ts": "2026-11-27T01:00:00.000Z",
        "valid_until": "2026-11-27T01:00:00.000Z", "w_set": 2500.0, "w_max_lim": None, "on": True,
        "src": {"w_set": {"schedule": "LD/ActPow_FSCH01", "prio": 42}, "w_max_lim": None, "on": None},
    }  # fmt: skip
    assert shown(view)["measurement"] == {"ts": "2026-11-27T01:00:00Z", "w": -1200.5}


class ManualClock:
    """The bridge's wall clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_device_data_age_and_turn_stale_while_the_broker_is_down(broker: Broker) -> None:
    clock = ManualClock()
    bridge = make_bridge(bridge_config(broker, heartbeat_s=30), one_device(), clock=clock)  # validity 60 s
    async with running(bridge):
        async with mqtt_client(broker) as (client, _):
            await client.publish(f"{DEV}/avail", b'{"state": "online"}', qos=1, retain=True)
            await client.publish(f"{DEV}/meas", json.dumps({"ts": AT.isoformat(), "w": 1500.0}), qos=1)
            view = bridge.views["bat1"]
            await wait_until(lambda: view.online is True and view.measurement is not None)
            await wait_until(lambda: view.command is not None)
        clock.now += 30
        [live] = bridge.device_status()
        broker.kill()
        await wait_until(lambda: not bridge.connected)
        clock.now += 150  # three minutes after the last measurement, 150 s after the broker went away
        [cut_off] = bridge.device_status()
    ages = {"online": 0.0, "fallback": None, "command": 30.0, "ack": None, "measurement": 30.0}
    assert live["age_s"] == ages
    assert live["stale"] == []
    assert cut_off["online"] is True  # the last word of the device, shown with its age
    assert cut_off["age_s"]["online"] == 150.0
    assert cut_off["age_s"]["measurement"] == 180.0
    assert cut_off["stale"] == ["online", "command", "measurement"]
