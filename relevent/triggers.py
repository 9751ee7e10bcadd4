"""Local triggers: enable a pre-programmed schedule while the gateway is on its own.

Use cases "no telecom" and "power-up": `no_mms_client` starts its schedule once no MMS client has been
associated for `after_s` seconds and stops it when a client is associated again; `startup` starts its
schedule at start-up and stops it `after_s` seconds later. The schedule is an ordinary FSCH that the
operator programs (values, `NumEntr`, `SchdIntv`, `SchdPrio`): its priority decides against the others,
SCADA sees it over MMS, and every enable and disable goes through the engine's commands with the actor
`local`/`trigger:<kind>`, so it is persisted and audited like a SCADA command.

Starting writes `StrTm01.setTm` = the current whole second (the run is joined at its first entry at once)
and operates `EnaReq`; a periodic `StrTm01` (with `setCal`) is left as programmed and only enabled.
Stopping operates `DsaReq`. Both go through the core's typed `Slots`.

A `no_mms_client` trigger only acts on evidence: no client for `after_s` (start) or a client present
(stop). Right after a restart neither holds, so a fallback that was running when the power went keeps
running until a client returns, instead of pausing for `after_s`. The client count is polled (`poll_s`):
one cheap read of the MMS server per period; seconds-scale triggers need no finer resolution. It counts
associated clients, not open TCP connections: a silent connection is no SCADA.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from relevent.config import LocalTriggerEntry
from relevent.errors import ConfigError
from relevent.refs import full_ref
from relevent.scheduler.clock import Clock
from relevent.scheduler.commands import Actor, CommandResult, Rejected
from relevent.scheduler.engine import Engine
from relevent.scheduler.policy import Lockable, SchedulePolicy, default_policy
from relevent.scheduler.schedule import SchdSt
from relevent.scheduler.slots import Slots
from relevent.scheduler.spec import ModelSpec, ScheduleSpec

log = structlog.get_logger(__name__)

TriggerKind = Literal["no_mms_client", "startup"]
POLL_S = 0.5


@dataclass(frozen=True)
class LocalTrigger:
    """One `[[local_triggers]]` entry, its schedule resolved to the engine's spec."""

    kind: TriggerKind
    after_s: float
    schedule: ScheduleSpec

    def wanted(self, uptime_s: float, clients: int, alone_s: float) -> bool | None:
        """Whether the schedule should run now; None when the trigger has no reason to act."""
        if self.kind == "startup":
            return uptime_s < self.after_s
        if clients:
            return False
        return True if alone_s >= self.after_s else None


def resolve_triggers(
    entries: Sequence[LocalTriggerEntry], model: ModelSpec, policies: Mapping[str, SchedulePolicy]
) -> list[LocalTrigger]:
    """The configured triggers; a schedule that a trigger could not switch is a configuration error."""
    specs = {spec.ref: spec for spec in model.schedules}
    triggers: dict[str, LocalTrigger] = {}
    for entry in entries:
        ref = full_ref(entry.schedule, model.ied_name)
        spec = specs.get(ref)
        if spec is None:
            raise ConfigError(f"[[local_triggers]] names {entry.schedule!r}, not a schedule of the model")
        if spec.reserve:
            raise ConfigError(f"[[local_triggers]] names {entry.schedule!r}, a reserve: it always runs")
        if ref in triggers:
            raise ConfigError(f"[[local_triggers]] names {entry.schedule!r} twice: the triggers would fight")
        policy = policies.get(ref, default_policy(spec))
        if policy.control_locked or (Lockable.STR_TM in policy.locked and not spec.start_times[0].periodic):
            raise ConfigError(f"[[policy]] locks {entry.schedule!r} against what its local trigger writes")
        triggers[ref] = LocalTrigger(entry.kind, entry.after_s, spec)
    return list(triggers.values())


class LocalTriggers:
    """Runs every trigger against the engine; `run()` is a service task of the gateway."""

    def __init__(
        self,
        engine: Engine,
        triggers: Sequence[LocalTrigger],
        *,
        clients: Callable[[], int],
        clock: Clock,
        poll_s: float = POLL_S,
    ) -> None:
        self._slots = Slots(engine)
        self._triggers = tuple(triggers)
        self._clients = clients
        self._clock = clock
        self._poll_s = poll_s
        self._active: list[bool | None] = [None] * len(self._triggers)  # None: not acted on yet

    async def run(self) -> None:
        """Evaluate every trigger each `poll_s` until cancelled; uptime and idle time are monotonic."""
        if not self._triggers:
            return
        loop = asyncio.get_running_loop()
        started = last_client = loop.time()
        while True:
            now = loop.time()
            clients = self._clients()
            if clients:
                last_client = now
            for index, trigger in enumerate(self._triggers):
                wanted = trigger.wanted(now - started, clients, now - last_client)
                if wanted is not None and wanted != self._active[index]:
                    self._active[index] = wanted
                    self._switch(trigger, on=wanted)
            await asyncio.sleep(self._poll_s)

    def _switch(self, trigger: LocalTrigger, *, on: bool) -> None:
        ref = trigger.schedule.ref
        actor = Actor(protocol="local", peer=f"trigger:{trigger.kind}")
        enabled = self._slots.state(ref) in (SchdSt.READY, SchdSt.RUNNING)
        log.info("local trigger", kind=trigger.kind, schedule=ref, action="start" if on else "stop")
        if on and enabled and trigger.kind == "no_mms_client":
            return  # a fallback still enabled from before a restart keeps its run; start-up begins afresh
        if enabled and not _accepted(self._slots.stop(ref, actor), ref):
            return
        if on:
            _accepted(self._slots.start_now(ref, self._clock.now(), actor), ref)


def _accepted(result: CommandResult, ref: str) -> bool:
    if isinstance(result, Rejected):  # the engine has audited it with the trigger as its actor
        log.warning("local trigger refused", schedule=ref, reason=result.reason.value, why=result.message)
        return False
    return True
