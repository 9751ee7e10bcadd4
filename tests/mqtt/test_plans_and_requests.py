"""ctl/plan from the forecasts, EMS extension requests, and the FledgePower compatibility output."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from relevent.errors import ConfigError
from relevent.lan.mqtt.seams import ExtensionAccepted, ExtensionRejected, ExtensionRequest
from relevent.scheduler.clock import SystemClock
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.engine import Engine
from relevent.scheduler.forecast import ForecastPoint
from relevent.scheduler.store import SqliteStore
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load
from tests.conftest import ReferenceDir
from tests.mosquitto import Broker, mqtt_client, wait_until
from tests.mqtt.conftest import (
    ACT,
    MAX,
    ONOFF,
    bridge_config,
    make_bridge,
    one_device,
    output,
    running,
    sample,
)

PLAN = "relevent/v1/gw1/dev/bat1/ctl/plan"
T0 = 1_795_687_200.0  # 2026-11-26T10:00:00Z


class Forecasts:
    """A forecast source whose answers the test sets."""

    def __init__(self, points: dict[str, list[ForecastPoint]]) -> None:
        self.points = points
        self.calls = 0

    def forecast(self, controller_ref: str, t0: float, t1: float) -> Sequence[ForecastPoint]:
        del t0, t1
        self.calls += 1
        return self.points.get(controller_ref, [])


PLANS_PUBLISHED = "relevent_mqtt_plans_published_total"


def _fp(t: float, value: float | bool | None) -> ForecastPoint:
    return ForecastPoint(t, value, None if value is None else "X/Y_FSCH01", None if value is None else 1)


async def test_plan_merges_the_controllers_and_is_republished_on_change(broker: Broker) -> None:
    forecasts = Forecasts({
        ACT: [_fp(T0, 1000.0), _fp(T0 + 900, 2000.0), _fp(T0 + 1800, None)],
        MAX: [_fp(T0, 5000.0)],
        ONOFF: [_fp(T0, True), _fp(T0 + 900, True)],
    })  # fmt: skip
    bridge = make_bridge(bridge_config(broker), one_device(), forecasts=forecasts)
    async with running(bridge):
        async with mqtt_client(broker, PLAN) as (_, inbox):  # subscribes after the publication
            message = await inbox.next()
        assert message.retain
        plan = json.loads(message.payload)
        assert plan["entries"] == [
            {"start": "2026-11-26T10:00:00.000Z", "w_set": 1000.0, "w_max_lim": 5000.0, "on": True},
            {"start": "2026-11-26T10:15:00.000Z", "w_set": 2000.0, "w_max_lim": 5000.0, "on": True},
            {"start": "2026-11-26T10:30:00.000Z", "w_set": None, "w_max_lim": 5000.0, "on": True},
        ]
        async with mqtt_client(broker, PLAN) as (_, inbox):
            await inbox.next()  # the retained plan
            calls = forecasts.calls
            bridge.refresh_plans()  # nothing changed: no new publication
            await wait_until(lambda: forecasts.calls > calls)
            forecasts.points[MAX] = [_fp(T0, 5000.0), _fp(T0 + 600, 3000.0)]
            bridge.refresh_plans()
            changed = await inbox.next_json()
            # the counter moves once the broker acknowledged the publication, maybe after delivery to us
            await wait_until(lambda: sample(bridge, PLANS_PUBLISHED, device="bat1") >= 2)
    assert [e["w_max_lim"] for e in changed["entries"]] == [5000.0, 3000.0, 3000.0, 3000.0]
    assert sample(bridge, PLANS_PUBLISHED, device="bat1") == 2


async def test_an_engine_plan_opens_with_every_controller_value(broker: Broker, tmp_path: Path) -> None:
    # Each forecast of a round starts at the engine's own "now", a little later for each controller: the
    # plan used to open with entries that held only the first controller's value and null for the others.
    engine = Engine(model_spec(load(DEFAULT_MODEL)), clock=SystemClock(), store=SqliteStore(tmp_path / "db"))
    engine.start()
    bridge = make_bridge(bridge_config(broker), one_device(), forecasts=engine)
    try:
        async with running(bridge), mqtt_client(broker, PLAN) as (_, inbox):
            plan = await inbox.next_json()
    finally:
        engine.stop()
    # The reserves hold every controller's value over the whole horizon: one entry, no null in it.
    assert [(e["w_set"], e["w_max_lim"], e["on"]) for e in plan["entries"]] == [(0.0, 0.0, True)]


class TurnTaking(Forecasts):
    """Notes, at each forecast, how often the loop has turned since the plans' round began."""

    def __init__(self, points: dict[str, list[ForecastPoint]]) -> None:
        super().__init__(points)
        self.turns: list[int] = []
        self._ticks = 0

    def forecast(self, controller_ref: str, t0: float, t1: float) -> Sequence[ForecastPoint]:
        if not self.turns:
            asyncio.get_running_loop().call_soon(self._tick)
        self.turns.append(self._ticks)
        return super().forecast(controller_ref, t0, t1)

    def _tick(self) -> None:
        self._ticks += 1
        if len(self.turns) < 3:  # the first round's three controllers
            asyncio.get_running_loop().call_soon(self._tick)


async def test_the_loop_turns_between_the_forecasts_of_a_plan_round(broker: Broker) -> None:
    # At 100 devices a round is 300 forecasts, ~0.3 s: in one go it held an entry boundary's commands back.
    forecasts = TurnTaking({ACT: [_fp(T0, 1000.0)], MAX: [_fp(T0, 5000.0)], ONOFF: [_fp(T0, True)]})
    bridge = make_bridge(bridge_config(broker), one_device(), forecasts=forecasts)
    async with running(bridge), mqtt_client(broker, PLAN) as (_, inbox):
        await inbox.next()
    first_round = forecasts.turns[:3]
    assert first_round[0] == 0
    assert first_round[1] > first_round[0]
    assert first_round[2] > first_round[1]


class Slots:
    """The composition root's extension handler, in memory: two slots, then no free one."""

    def __init__(self) -> None:
        self.requests: list[ExtensionRequest] = []

    async def submit(self, request: ExtensionRequest) -> ExtensionAccepted | ExtensionRejected:
        self.requests.append(request)
        if len(self.requests) > 1:
            return ExtensionRejected("no_free_slot")
        return ExtensionAccepted("DER_Scheduler_Control/MaxPow_FSCH01")


async def test_ems_extension_requests_are_answered(broker: Broker, reference_dir: ReferenceDir) -> None:
    slots = Slots()
    config = bridge_config(broker, ems_request_topic="site/ems/request", ems_reply_prefix="own")
    bridge = make_bridge(config, one_device(), extension_handler=slots)
    example = reference_dir.file("hedera/examples/ems-extension-request.json").read_bytes()
    relaxed = reference_dir.file("hedera/examples/ems-extension-request.relaxed.txt").read_bytes()
    async with running(bridge), mqtt_client(broker, "site/ems/request/reply", "own/reply") as (client, inbox):
        await client.publish("site/ems/request", example, qos=1)
        accepted = await inbox.next_json()
        await client.publish("site/ems/request", example, qos=1)
        refused = await inbox.next_json()
        await client.publish("site/ems/request", relaxed, qos=1)
        malformed = await inbox.next_json()
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = "own/reply"
        props.CorrelationData = b"req-7"
        await client.publish("site/ems/request", b'{"direction":"EXPORT"}', qos=1, properties=props)
        answer = await inbox.next()
        props.ResponseTopic = "own/+/reply"  # a wildcard is no topic name: answered on the configured one
        await client.publish("site/ems/request", b"{}", qos=1, properties=props)
        fallback = await inbox.next()
    assert (accepted["result"], accepted["slot"]) == ("accepted", "DER_Scheduler_Control/MaxPow_FSCH01")
    assert (refused["result"], refused["reason"]) == ("rejected", "no_free_slot")
    assert (malformed["result"], malformed["reason"]) == ("rejected", "invalid_json")
    assert answer.topic.value == "own/reply"
    assert answer.properties is not None
    assert answer.properties.json()["CorrelationData"] == b"req-7".hex()  # type: ignore[no-untyped-call]
    assert json.loads(answer.payload)["reason"] == "invalid_payload"
    assert fallback.topic.value == "site/ems/request/reply"
    assert slots.requests[0] == ExtensionRequest("IMPORT", 1704807420.0, 900, (42.0, 1337.0))
    assert sample(bridge, "relevent_mqtt_inbound_rejected_total", kind="request", reason="invalid_json") == 1
    assert sample(bridge, "relevent_mqtt_extension_requests_total", result="rejected") == 4


async def test_an_ems_response_topic_outside_the_reply_prefix_is_not_published_to(broker: Broker) -> None:
    config = bridge_config(broker, ems_request_topic="site/ems/request", ems_reply_prefix="site/ems/replies")
    bridge = make_bridge(config, one_device(), extension_handler=Slots())
    device_commands = "relevent/v1/gw1/dev/bat1/ctl/set"
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    async with running(bridge), mqtt_client(broker, "site/ems/#") as (client, inbox):
        await wait_until(lambda: bridge.connected)
        for response_topic in (device_commands, "site/ems/repliesX", "site/ems/replies/ems7"):
            props.ResponseTopic = response_topic
            await client.publish("site/ems/request", b"{}", qos=1, properties=props)
        answers = [(await inbox.until(lambda m: "/repl" in m.topic.value)).topic.value for _ in range(3)]
    assert answers == ["site/ems/request/reply", "site/ems/request/reply", "site/ems/replies/ems7"]
    refused = sample(bridge, "relevent_mqtt_inbound_rejected_total", kind="request", reason="response_topic")
    assert refused == 2


@pytest.mark.parametrize(
    "prefix", ["relevent/v1/gw1/dev", "relevent", "relevent/v1/gw1", "relevent/v1/gw1/dev/bat1/ctl"]
)
def test_an_ems_reply_prefix_over_the_gateways_topics_is_a_config_error(broker: Broker, prefix: str) -> None:
    config = bridge_config(broker, ems_request_topic="site/ems/request", ems_reply_prefix=prefix)
    with pytest.raises(ConfigError, match="overlaps the gateway's topics"):
        make_bridge(config, one_device(), extension_handler=Slots())


def test_an_ems_reply_prefix_beside_the_device_topics_is_fine(broker: Broker) -> None:
    prefix = "relevent/v1/gw1/ems"
    make_bridge(bridge_config(broker, ems_request_topic="site/ems/request", ems_reply_prefix=prefix),
                one_device(), extension_handler=Slots())  # fmt: skip


def test_an_ems_topic_needs_a_handler(broker: Broker) -> None:
    with pytest.raises(ConfigError, match="extension request handler"):
        make_bridge(bridge_config(broker, ems_request_topic="site/ems/request"), one_device())


async def test_fledge_compatibility_output(broker: Broker) -> None:
    forecasts = Forecasts({ACT: [_fp(T0, 1000.0), _fp(T0 + 900, None), _fp(T0 + 1800, 3000.0)]})
    config = bridge_config(broker, compat_fledge=True, compat_schedule_period_s=0.1)
    bridge = make_bridge(config, one_device(), forecasts=forecasts)
    topics = ("fledge/south-command", "fledge/south-schedule")
    async with running(bridge), mqtt_client(broker, *topics) as (_, inbox):
        bridge.on_output(output(ONOFF, value=True))
        command = await inbox.until(lambda m: m.topic.value == "fledge/south-command")
        schedule = await inbox.until(lambda m: m.topic.value == "fledge/south-schedule")
        second = await inbox.until(lambda m: m.topic.value == "fledge/south-schedule")  # periodic
    gtic = json.loads(command.payload)["parameters"][0]["value"]["GTIC"]
    assert gtic["Identifier"] == ONOFF
    assert gtic["SpcTyp"]["ctlVal"] is True
    assert abs(gtic["SpcTyp"]["t"]["SecondSinceEpoch"] - time.time()) < 5
    entries = [p["value"]["GTIC"] for p in json.loads(schedule.payload)["parameters"]]
    assert [(g["ApcTyp"]["ctlVal"], g["ApcTyp"]["t"]["SecondSinceEpoch"]) for g in entries] == [
        (1000.0, T0),
        (3000.0, T0 + 1800),
    ]
    assert second.payload == schedule.payload


async def test_compat_output_is_off_by_default(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker), one_device())
    async with (
        mqtt_client(broker, "fledge/#", "relevent/v1/gw1/dev/bat1/ctl/set") as (_, inbox),
        running(bridge),
    ):
        await inbox.next()  # the command on connect
        bridge.on_output(output(ACT, 5.0))
        assert (await inbox.next()).topic.value.endswith("ctl/set")
        with pytest.raises(TimeoutError):
            await inbox.until(lambda m: m.topic.value.startswith("fledge/"), wait_s=0.3)
