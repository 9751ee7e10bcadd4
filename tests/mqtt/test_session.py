"""Gateway status and last will, reconnects, bounded buffering, credentials, ACL and TLS."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from functools import partial
from typing import Any

import aiomqtt
import pytest
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from relevent import __version__
from relevent.config import MqttSection
from relevent.lan.mqtt.config import BrokerConfig
from relevent.lan.mqtt.connection import BrokerSession, Outbox, OutMessage, _inbox
from relevent.lan.mqtt.metrics import BridgeMetrics
from tests.mosquitto import PASSWORDS, Broker, TlsFiles, mqtt_client, wait_until
from tests.mqtt.conftest import (
    ACT,
    MAX,
    MqttSite,
    Recorder,
    bridge_config,
    make_bridge,
    one_device,
    output,
    running,
    sample,
)

STATUS = "relevent/v1/gw1/status"


async def _failed_attempts(bridge: MqttSite, count: int) -> None:
    await wait_until(lambda: sample(bridge, "relevent_mqtt_connection_errors_total") >= count)


SET = "relevent/v1/gw1/dev/bat1/ctl/set"


async def test_status_online_retained_and_offline_after_a_clean_stop(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker), one_device())
    async with running(bridge), mqtt_client(broker, STATUS) as (_, inbox):  # late: gets the retained status
        message = await inbox.next()
    status = json.loads(message.payload)
    assert message.retain
    assert (status["state"], status["version"]) == ("online", __version__)
    assert status["ts"].endswith("Z")
    async with mqtt_client(broker, STATUS) as (_, inbox):
        message = await inbox.next()
    assert message.retain
    assert json.loads(message.payload) == {"state": "offline"}


async def test_last_will_announces_offline_when_the_connection_dies(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker), one_device())
    async with running(bridge), mqtt_client(broker, STATUS) as (_, inbox):
        assert json.loads((await inbox.next()).payload)["state"] == "online"
        sock = bridge.driver._session._client._client.socket()  # type: ignore[union-attr]
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)  # no DISCONNECT packet: the broker sends the will
        assert json.loads((await inbox.next()).payload) == {"state": "offline"}
        assert json.loads((await inbox.next()).payload)["state"] == "online"  # reconnected by itself


async def test_broker_restart_resends_the_current_command_within_2_s(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker, heartbeat_s=30), one_device())
    bridge.on_output(output(ACT, 1000.0))
    async with running(bridge):
        broker.kill()
        await wait_until(lambda: not bridge.connected)
        for watts in range(100):  # changes while the broker is away: only the newest is kept
            bridge.on_output(output(ACT, float(watts)))
            bridge.on_output(output(MAX, 5000.0 + watts))
        assert len(bridge.driver._outbox) <= 2  # one command, nothing else queued
        broker.start()
        back = time.monotonic()
        async with mqtt_client(broker, SET) as (_, inbox):
            command = await inbox.next_json(wait_s=2.0)
        assert time.monotonic() - back < 2.0
    assert (command["w_set"], command["w_max_lim"]) == (99.0, 5099.0)
    assert sample(bridge, "relevent_mqtt_connects_total") == 2


async def test_bridge_keeps_running_without_a_broker_and_warns_once_per_outage(broker: Broker) -> None:
    broker.kill()
    bridge = make_bridge(bridge_config(broker), one_device())
    with capture_logs() as logs:
        async with running(bridge, connected=False):
            bridge.on_output(output(ACT, 1.0))
            await _failed_attempts(bridge, 4)
            assert not bridge.connected
            broker.start()
            await wait_until(lambda: bridge.connected)
    outage = [entry for entry in logs if entry["event"] == "mqtt broker unreachable"]
    assert len(outage) >= 4
    assert [entry["log_level"] for entry in outage].count("warning") == 1


async def test_credentials_and_the_shipped_acl(secure_broker: Broker) -> None:
    creds = {"username": "gw", "password": PASSWORDS["gw"]}
    sinks = Recorder()
    bridge = make_bridge(bridge_config(secure_broker, **creds), one_device(), measurements=sinks)
    bat1: dict[str, Any] = {"username": "bat1", "password": PASSWORDS["bat1"]}
    evse1: dict[str, Any] = {"username": "evse1", "password": PASSWORDS["evse1"]}
    async with (
        running(bridge),
        mqtt_client(secure_broker, SET, **bat1) as (bat1_client, bat1_inbox),
        mqtt_client(secure_broker, SET, **evse1) as (evse1_client, evse1_inbox),
    ):
        bridge.on_output(output(ACT, 10.0))
        assert (await bat1_inbox.until(lambda m: json.loads(m.payload)["w_set"] == 10.0)).retain is False
        with pytest.raises(TimeoutError):
            await evse1_inbox.next(wait_s=0.3)  # may not read another device's commands
        spoofed = json.dumps({"ts": "2026-11-26T10:00:00Z", "w": 666})
        await evse1_client.publish("relevent/v1/gw1/dev/bat1/meas", spoofed, qos=1)  # dropped by the ACL
        meas = json.dumps({"ts": "2026-11-26T10:00:00Z", "w": 5})
        await bat1_client.publish("relevent/v1/gw1/dev/bat1/meas", meas, qos=1)
        await wait_until(lambda: bool(sinks.measurements))
    assert [m.w for m in sinks.measurements] == [5]


async def test_wrong_password_keeps_retrying(secure_broker: Broker) -> None:
    creds = {"username": "gw", "password": "wrong"}
    bridge = make_bridge(bridge_config(secure_broker, **creds), one_device())
    async with running(bridge, connected=False):
        await _failed_attempts(bridge, 3)
        assert sample(bridge, "relevent_mqtt_connects_total") == 0


async def test_tls_with_client_certificate(tls_broker: Broker, tls_files: TlsFiles) -> None:
    config = bridge_config(
        tls_broker, ca_file=tls_files.ca, cert_file=tls_files.client_cert, key_file=tls_files.client_key
    )
    bridge = make_bridge(config, one_device())
    device_tls = aiomqtt.TLSParameters(
        ca_certs=str(tls_files.ca), certfile=str(tls_files.client_cert), keyfile=str(tls_files.client_key)
    )
    async with running(bridge), mqtt_client(tls_broker, SET, tls_params=device_tls) as (_, inbox):
        bridge.on_output(output(ACT, 77.0))
        await inbox.until(lambda m: json.loads(m.payload)["w_set"] == 77.0)


async def test_tls_without_client_certificate_is_refused(tls_broker: Broker, tls_files: TlsFiles) -> None:
    bridge = make_bridge(
        bridge_config(tls_broker, ca_file=tls_files.ca, timeout_s=0.3), one_device()
    )
    async with running(bridge, connected=False):
        await _failed_attempts(bridge, 3)
        assert sample(bridge, "relevent_mqtt_connects_total") == 0


def test_a_flood_drops_the_oldest_inbound_messages_and_counts_them() -> None:
    dropped = Counter("dropped", "test", registry=CollectorRegistry())
    inbox = _inbox(lambda _: True, dropped)(maxsize=3)
    for seq in range(5):
        inbox.put_nowait(aiomqtt.Message("t", str(seq).encode(), 1, False, seq, None))
    assert [inbox.get_nowait().payload for _ in range(3)] == [b"2", b"3", b"4"]
    assert dropped._value.get() == 2


def test_a_message_the_admission_refuses_never_enters_the_inbox() -> None:
    dropped = Counter("dropped", "test", registry=CollectorRegistry())
    inbox = _inbox(lambda topic: topic != "flood", dropped)(maxsize=3)
    for seq, topic in enumerate(["flood", "ok", "flood", "ok"]):
        inbox.put_nowait(aiomqtt.Message(topic, str(seq).encode(), 1, False, seq, None))
    assert [inbox.get_nowait().payload for _ in range(inbox.qsize())] == [b"1", b"3"]
    assert dropped._value.get() == 0


class HeldPubacks:
    """Stands in for aiomqtt's client: records each publication; its PUBACK comes when the test says so."""

    def __init__(self) -> None:
        self.topics: list[str] = []
        self.puback = asyncio.Event()

    async def publish(self, topic: str, *_: object, **__: object) -> None:
        self.topics.append(topic)
        await self.puback.wait()


async def test_a_publication_does_not_wait_for_the_puback_of_an_earlier_one() -> None:
    metrics = BridgeMetrics(CollectorRegistry())
    session = BrokerSession(
        BrokerConfig.from_section(MqttSection()), client_id="gw", will=OutMessage("will", b""),
        subscriptions=[], on_connected=lambda: None, on_disconnected=lambda: None,
        on_message=lambda _: asyncio.sleep(0), admit=lambda _: True, outbox=Outbox(), metrics=metrics,
    )  # fmt: skip
    client = HeldPubacks()
    session._client = client  # type: ignore[assignment]
    session._up.set()
    published: list[str] = []
    loop = asyncio.create_task(session.publish_loop())
    try:
        for topic in ("first", "second"):
            message = OutMessage(topic, b"", on_published=partial(published.append, topic))
            session.outbox.put_message(topic, message)
            await wait_until(lambda topic=topic: topic in client.topics)  # type: ignore[misc]
        assert published == []  # both sent, neither acknowledged yet
        client.puback.set()
        await wait_until(lambda: published == ["first", "second"])
    finally:
        loop.cancel()


async def test_the_broker_connection_sends_each_packet_at_once(broker: Broker) -> None:
    bridge = make_bridge(bridge_config(broker), one_device())
    async with running(bridge):
        await wait_until(lambda: bridge.connected)
        client = bridge.driver._session._client  # the socket is nowhere public
        assert client is not None
        sock = client._client.socket()
        assert isinstance(sock, socket.socket)
        # Nagle off: an answer written behind a PUBACK must not wait ~40 ms for the broker's delayed ACK.
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
