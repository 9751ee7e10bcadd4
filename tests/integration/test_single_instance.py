"""A second gateway beside a running one stops before any device hears from it (issue 17, item 1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from tests.daemon import GatewayArgs, run_cli
from tests.integration.gateway import gateway
from tests.mosquitto import Broker, Inbox, mqtt_client

pytestmark = pytest.mark.slow

PROBE = "probe/second-instance"


async def _until_probe(client: aiomqtt.Client, inbox: Inbox) -> list[str]:
    """Every message the broker delivered before a probe published now: it comes after all of them."""
    await client.publish(PROBE, b"", qos=1)
    seen = []
    while (message := await inbox.next()).topic.value != PROBE:
        seen.append(f"{message.topic.value} {message.payload!r}")
    return seen


@pytest.mark.parametrize(
    ("state", "refusal"),
    [
        ("state", "another relevent-gw (pid {pid}) runs on the state directory {state_dir}"),
        ("other-state", "cannot listen on 127.0.0.1:{mms_port} for MMS: Address already in use"),
    ],
    ids=["same-state-dir", "same-mms-port"],
)
async def test_a_second_instance_exits_with_a_clear_error_and_sends_nothing(
    tmp_path: Path, broker: Broker, state: str, refusal: str
) -> None:
    with gateway(broker, tmp_path) as first:
        second = GatewayArgs(tmp_path / state, mms_port=first.mms_port, mqtt_url=broker.url,
                             extra=("--config", str(tmp_path / "gw.toml")))  # fmt: skip
        async with mqtt_client(broker, "relevent/v1/#", PROBE) as (client, inbox):
            await _until_probe(client, inbox)  # the retained messages of the running gateway
            result = await asyncio.to_thread(run_cli, *second.argv())
            seen = await _until_probe(client, inbox)
        assert seen == []  # neither a command to a device nor a status: the broker session stayed the first's
        assert result.returncode == 69, result.stderr
        pid, mms_port = first.daemon.proc.pid, first.mms_port
        expected = refusal.format(pid=pid, state_dir=second.state_dir, mms_port=mms_port)
        assert result.stderr.startswith(f"relevent-gw: error: {expected}")
        assert result.stderr.count("\n") == 1  # one line, no traceback
        assert first.daemon.proc.poll() is None
