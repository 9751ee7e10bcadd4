"""Local triggers against a real engine on fake time: when they start and stop, and what they leave alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from relevent.config import LocalTriggerEntry
from relevent.errors import ConfigError
from relevent.scheduler.commands import Accepted
from relevent.scheduler.policy import SchedulePolicy
from relevent.triggers import LocalTriggers, TriggerKind, resolve_triggers
from tests.scheduler.factory import BASE, ln, small_spec
from tests.scheduler.harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

FALLBACK = ln("F_FSCH02")
RUNNING, NOT_READY = 4, 1


class Associations:
    """The MMS association count the triggers poll; the test sets it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count


def programmed(directory: Path) -> Harness:
    """An engine whose fallback holds a valid program (one 1 h entry) but is not enabled."""
    h = start_engine(small_spec(reserve=True), directory / "store")
    h.program(FALLBACK, values=[42.0], intv=3600, prio=70, starts=[], enable=False)
    return h


def run_triggers(h: Harness, kind: TriggerKind, after_s: float, clients: Associations) -> asyncio.Task[None]:
    entry = LocalTriggerEntry(kind=kind, after_s=after_s, schedule="@Control/F_FSCH02")
    triggers = resolve_triggers([entry], h.model, {})
    return asyncio.create_task(LocalTriggers(h.engine, triggers, clients=clients, clock=h.clock).run())


def local_commands(h: Harness) -> list[tuple[str, str, str]]:
    """The audited commands of local actors: (peer, object, result)."""
    return [
        (c.actor.peer, c.ref.rpartition("/")[2], "accepted" if isinstance(c.result, Accepted) else "refused")
        for c in h.recorder.commands
        if c.actor.protocol == "local"
    ]


async def test_no_mms_client_starts_the_fallback_after_n_s_alone_and_stops_it_when_a_client_returns(
    tmp_path: Path,
) -> None:
    h = programmed(tmp_path)
    clients = Associations()
    task = run_triggers(h, "no_mms_client", 30, clients)
    await h.sleep_until(BASE + 29)
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == NOT_READY
    await h.sleep_until(BASE + 31)
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == RUNNING
    assert h.value(f"{FALLBACK}.ActStrTm.stVal") == BASE + 30  # started "now", at a whole second
    assert h.engine.output(ln("F_FSCC1")).source == FALLBACK  # type: ignore[union-attr]
    clients.count = 1
    await h.sleep_until(BASE + 32)
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == NOT_READY
    clients.count = 0
    await h.sleep_until(BASE + 61)
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == NOT_READY  # alone for 29 s only
    await h.sleep_until(BASE + 63)
    assert BASE + 61 <= h.value(f"{FALLBACK}.ActStrTm.stVal") <= BASE + 62  # type: ignore[operator] # 1 poll
    task.cancel()
    assert local_commands(h) == [
        ("trigger:no_mms_client", "F_FSCH02.StrTm01.setTm", "accepted"),
        ("trigger:no_mms_client", "F_FSCH02.EnaReq", "accepted"),
        ("trigger:no_mms_client", "F_FSCH02.DsaReq", "accepted"),
        ("trigger:no_mms_client", "F_FSCH02.StrTm01.setTm", "accepted"),
        ("trigger:no_mms_client", "F_FSCH02.EnaReq", "accepted"),
    ]


async def test_a_fallback_running_before_a_restart_keeps_its_run_until_a_client_returns(
    tmp_path: Path,
) -> None:
    h = programmed(tmp_path)
    h.program(FALLBACK, values=[42.0], intv=3600, prio=70, starts=[BASE + 5])
    h = h.restart()  # a power loss while the fallback ran
    task = run_triggers(h, "no_mms_client", 30, Associations())
    await h.sleep_until(BASE + 100)
    assert h.value(f"{FALLBACK}.ActStrTm.stVal") == BASE + 5  # the same run, not restarted
    task.cancel()
    assert local_commands(h) == []


async def test_startup_runs_the_schedule_afresh_for_n_s_after_start_up(tmp_path: Path) -> None:
    h = programmed(tmp_path)
    h.program(FALLBACK, values=[42.0], intv=3600, prio=70, starts=[BASE + 5])  # enabled by SCADA earlier
    await h.sleep_until(BASE + 10)
    task = run_triggers(h, "startup", 20, Associations())
    await h.sleep_until(BASE + 11)
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == RUNNING
    assert h.value(f"{FALLBACK}.ActStrTm.stVal") == BASE + 10  # begun afresh at start-up
    await h.sleep_until(BASE + 31)
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == NOT_READY
    task.cancel()
    assert [c[1] for c in local_commands(h)] == [
        "F_FSCH02.DsaReq", "F_FSCH02.StrTm01.setTm", "F_FSCH02.EnaReq", "F_FSCH02.DsaReq"
    ]


async def test_a_refused_start_is_audited_once_not_retried_every_poll(tmp_path: Path) -> None:
    h = start_engine(small_spec(reserve=True), tmp_path / "store")  # the fallback was never programmed
    task = run_triggers(h, "no_mms_client", 5, Associations())
    await h.sleep_until(BASE + 60)
    task.cancel()
    assert h.value(f"{FALLBACK}.SchdSt.stVal") == NOT_READY
    assert len(local_commands(h)) == 1
    assert local_commands(h)[0][2] == "refused"


@pytest.mark.parametrize(
    ("schedule", "policies", "problem"),
    [
        ("@Control/Nope_FSCH01", {}, "not a schedule of the model"),
        ("@Control/F_Res_FSCH01", {}, "a reserve"),
        ("@Control/F_FSCH02", {FALLBACK: SchedulePolicy(control_locked=True)}, "locks"),
    ],
)
def test_a_trigger_that_could_not_switch_its_schedule_is_a_config_error(
    schedule: str, policies: dict[str, SchedulePolicy], problem: str
) -> None:
    entry = LocalTriggerEntry(kind="startup", after_s=10, schedule=schedule)
    with pytest.raises(ConfigError, match=problem):
        resolve_triggers([entry], small_spec(reserve=True), policies)


def test_two_triggers_on_one_schedule_are_a_config_error() -> None:
    entries = [
        LocalTriggerEntry(kind=kind, after_s=10, schedule="@Control/F_FSCH02")
        for kind in ("startup", "no_mms_client")
    ]
    with pytest.raises(ConfigError, match="twice"):
        resolve_triggers(entries, small_spec(reserve=True), {})
