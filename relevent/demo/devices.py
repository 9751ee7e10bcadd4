"""A simulated DER device that follows the MQTT device contract, as a vendor would implement it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt
from pydantic import ValidationError

from relevent.lan.mqtt.payloads import Ack, Applied, Availability, Command, DeviceState, Measurement
from relevent.lan.mqtt.topics import Inbound, Topics

MEASUREMENT_PERIOD_S = 1.0
RESPONSE = 0.5  # share of the gap to the setpoint the device closes per measurement period


@dataclass
class DeviceModel:
    """The physics of the simulation: a rated power and how fast the device follows its setpoint."""

    rated_w: float
    natural_w: float = 0.0  # what it draws or feeds without a setpoint: an EV charges at full power
    power_w: float = 0.0


class SimulatedDevice:
    """A device on the broker, as the contract describes it.

    It acks every command, applies it (clamped to its rating), measures every second, falls back when the
    command expires (`valid_until`), and announces itself online with an `offline` last will.
    """

    def __init__(  # noqa: PLR0913 - where it is, and what it is
        self, device_id: str, topics: Topics, host: str, port: int, *, rated_w: float, natural_w: float = 0.0
    ) -> None:
        self.id = device_id
        self._topics = topics
        self._host = host
        self._port = port
        self.model = DeviceModel(rated_w, natural_w)
        self.command: Command | None = None
        self.commands_received = 0
        self.fallback: bool | None = None  # unknown until the first state is published

    async def run(self) -> None:
        """Connect and serve until cancelled."""
        avail = self._topics.inbound(self.id, Inbound.AVAIL)
        will = aiomqtt.Will(avail, _json(Availability(state="offline")), qos=1, retain=True)
        async with aiomqtt.Client(self._host, self._port, identifier=f"sim-{self.id}", will=will) as client:
            await client.subscribe(self._topics.command(self.id), qos=1)
            await client.publish(avail, _json(Availability(state="online")), qos=1, retain=True)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._receive(client))
                group.create_task(self._measure(client))

    def target_w(self) -> float:
        """What the device would output now: its command within its rating, or 0 in fallback."""
        command = self.command
        if command is None or self.fallback or command.on is False:
            return 0.0
        rated = self.model.rated_w
        limit = rated if command.w_max_lim is None else min(rated, command.w_max_lim)
        setpoint = self.model.natural_w if command.w_set is None else command.w_set
        return max(-limit, min(limit, setpoint))

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                command = Command.model_validate_json(bytes(message.payload))
            except (ValidationError, TypeError):
                continue
            self.command, self.commands_received = command, self.commands_received + 1
            applied = Applied(w_set=self.target_w(), w_max_lim=command.w_max_lim, on=command.on)
            clamped = command.w_set is not None and applied.w_set != command.w_set and command.on is not False
            ack = Ack(id=command.id, result="clamped" if clamped else "accepted", applied=applied)
            await client.publish(self._topics.ack(self.id), _json(ack), qos=1)
            await self._set_fallback(client, fallback=False)

    async def _measure(self, client: aiomqtt.Client) -> None:
        seq = 0
        while True:
            await asyncio.sleep(MEASUREMENT_PERIOD_S)
            command = self.command
            if command is not None and datetime.now(UTC) > command.valid_until:
                await self._set_fallback(client, fallback=True)
            self.model.power_w += RESPONSE * (self.target_w() - self.model.power_w)
            seq += 1
            meas = Measurement(ts=datetime.now(UTC), seq=seq, w=round(self.model.power_w, 1))
            await client.publish(self._topics.inbound(self.id, Inbound.MEAS), _json(meas), qos=0)

    async def _set_fallback(self, client: aiomqtt.Client, *, fallback: bool) -> None:
        if fallback == self.fallback:
            return
        self.fallback = fallback
        state = DeviceState(fallback=fallback, ts=datetime.fromtimestamp(time.time(), UTC))
        await client.publish(self._topics.inbound(self.id, Inbound.STATE), _json(state), qos=1, retain=True)


def _json(payload: Ack | Availability | DeviceState | Measurement) -> bytes:
    return payload.model_dump_json(exclude_none=True).encode()
