"""A real mosquitto on a free loopback port (plain, password + ACL, TLS) and MQTT test clients.

The fixtures are registered for every test through `tests/conftest.py`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from relevent.demo.broker import LoopbackBroker, find_mosquitto
from relevent.errors import StartupError
from relevent.lan.mqtt.acl import acl_template

TIMEOUT_S = 3.0


class Broker(LoopbackBroker):
    """The demo's loopback mosquitto, optionally TLS; as root it reads the test key files as root."""

    def __init__(self, directory: Path, extra_conf: str = "", *, tls: bool = False) -> None:
        super().__init__(directory, f"user root\n{extra_conf}")
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    try:
        find_mosquitto()
    except StartupError as exc:  # `make test` installs it: a missing broker is a broken set-up, not a skip
        pytest.fail(str(exc))
    brokers: list[Broker] = []

    def make(extra_conf: str = "allow_anonymous true\n", *, tls: bool = False) -> Broker:
        directory = Path(tempfile.mkdtemp(prefix="mosq-", dir=tmp_path))
        broker = Broker(directory, extra_conf, tls=tls)
        broker.start()
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.kill()


@pytest.fixture
def broker(broker_factory: Callable[..., Broker]) -> Broker:
    return broker_factory()


PASSWORDS = {"gw": "gw-secret", "bat1": "bat1-secret", "evse1": "evse1-secret"}


@pytest.fixture
def secure_broker(broker_factory: Callable[..., Broker], tmp_path: Path) -> Broker:
    """Password file + the shipped ACL template: one user per device, the gateway user `gw`."""
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    acl = tmp_path / "acl"
    acl.write_text(acl_template())
    return broker_factory(f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=relevent-test-ca")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "gw")):
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={cn}")  # fmt: skip
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return TlsFiles(d / "ca.crt", d / "client.crt", d / "client.key")


@pytest.fixture
def tls_broker(broker_factory: Callable[..., Broker], tls_files: TlsFiles) -> Broker:
    """TLS with client certificates required."""
    d = tls_files.ca.parent
    return broker_factory(
        f"allow_anonymous true\ncafile {tls_files.ca}\n"
        f"certfile {d / 'server.crt'}\nkeyfile {d / 'server.key'}\nrequire_certificate true\n",
        tls=True,
    )


@dataclass
class Inbox:
    """Messages received by a test client, consumed in order with a timeout."""

    queue: asyncio.Queue[aiomqtt.Message] = field(default_factory=asyncio.Queue)

    async def next(self, wait_s: float = TIMEOUT_S) -> aiomqtt.Message:
        return await asyncio.wait_for(self.queue.get(), wait_s)

    async def next_json(self, wait_s: float = TIMEOUT_S) -> dict[str, Any]:
        message = await self.next(wait_s)
        data: dict[str, Any] = json.loads(message.payload)
        return data

    async def until(
        self, predicate: Callable[[aiomqtt.Message], bool], wait_s: float = TIMEOUT_S
    ) -> aiomqtt.Message:
        """Skip messages until one matches."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.next(max(remaining, 0.001))
            if predicate(message):
                return message


@asynccontextmanager
async def mqtt_client(
    broker: Broker,
    *topics: str,
    protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V5,
    **kwargs: Any,
) -> AsyncIterator[tuple[aiomqtt.Client, Inbox]]:
    """A connected test client subscribed to `topics`; its messages land in the inbox."""
    inbox = Inbox()
    async with aiomqtt.Client(broker.host, broker.port, protocol=protocol, **kwargs) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)

        async def pump() -> None:
            async for message in client.messages:
                inbox.queue.put_nowait(message)

        task = asyncio.create_task(pump())
        try:
            yield client, inbox
        finally:
            task.cancel()


async def wait_until(condition: Callable[[], bool], wait_s: float = TIMEOUT_S) -> None:
    """Poll a condition of the code under test until it holds (it has no event to wait on)."""
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)
