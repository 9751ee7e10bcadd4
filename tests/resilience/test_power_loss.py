"""Power loss: after SIGKILL at random moments every answered write is back, no refused one.

Each cycle starts the daemon on one state directory, checks a schedule with 1 s entries continues at the
right entry, compares every parameter and enabled state with a model of the answered commands, performs
random writes and enables until a timer SIGKILLs the daemon (often with a request in flight), and starts
over. A command whose answer never arrived may or may not have taken effect; the model allows both until
the next read-back settles it. Some kills land during start-up, while the store is being restored.
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from open61850.data import BitStringData, FloatData, IECData, IntData, StructureData, TimestampData
from open61850.mms import ControlError, DataAccessError, MmsClient, MmsError, ObjectName, operate

from relevent.timing import STATUS_DELAY_S
from tests.daemon import Daemon, GatewayArgs, running
from tests.integration.gateway import LD, Schedule, connect, program, read

pytestmark = pytest.mark.slow

CYCLES = 30
STARTUP_KILLS = 0.2  # share of the kills that land while the daemon starts (restoring its store)
SERVING_TIMEOUT_S = 15.0
MIRROR_LAG_S = STATUS_DELAY_S + 0.2  # + the boundary's own processing on a loaded machine
RUNNING = Schedule("ActPow_FSCH01", [float(entry) for entry in range(1, 101)], start=0.0, prio=90)
RANDOM = [f"ActPow_FSCH{i:02d}" for i in range(2, 10)]
RESERVE_PRIO = "ActPow_Res_FSCH01$SP$SchdPrio$setVal"  # locked: every write of it is refused
DIRECT_NORMAL = 1  # ctlModel of EnaReq/DsaReq: saves a read per operate
ENABLED = "enabled"


@dataclass
class Model:
    """What each item may read back: one value once settled, two while an unanswered command is pending."""

    possible: dict[str, set[object]] = field(default_factory=dict)
    answered: int = 0
    refused: int = 0
    in_flight: int = 0

    def settle(self, item: str, seen: object) -> None:
        expected = self.possible.setdefault(item, {seen})
        assert seen in expected, f"{item} reads {seen!r}, answered commands left it {expected}"
        self.possible[item] = {seen}


@dataclass(frozen=True)
class Command:
    """A random write (`data` set) or an EnaReq/DsaReq (`item` is `<FSCH>.enabled`)."""

    item: str
    value: object  # what the item reads back when the command took effect
    data: IECData | None = None
    disables: str | None = None  # an enabled-state item the command also turns off

    def took_effect(self, model: Model) -> None:
        model.possible[self.item] = {self.value}
        if self.disables is not None:
            model.possible[self.disables] = {False}

    def may_have_taken_effect(self, model: Model) -> None:
        model.possible[self.item].add(self.value)
        if self.disables is not None:
            model.possible[self.disables].add(False)

    def send(self, client: MmsClient) -> None:
        if self.data is not None:
            client.write(ObjectName(self.item, LD), self.data)
        else:
            control = "EnaReq" if self.value else "DsaReq"
            schedule = self.item.partition(".")[0]
            operate(client, f"{LD}/{schedule}.{control}", True, ctl_model=DIRECT_NORMAL, error_grace=0.0)


def random_command(rng: random.Random) -> Command:
    schedule = rng.choice(RANDOM)
    kind = rng.choice(["value", "value", "NumEntr", "SchdIntv", "SchdPrio", "StrTm", "enable", "enable",
                       "disable", "reserve"])  # fmt: skip
    if kind in {"enable", "disable"}:
        return Command(f"{schedule}.{ENABLED}", kind == "enable")
    if kind == "reserve":
        prio = rng.randint(1000, 2000)
        return Command(RESERVE_PRIO, prio, IntData(prio))
    if kind == "value":
        value = rng.randint(-400, 400) / 4  # exact in float32
        return Command(f"{schedule}$SP$ValASG00{rng.randint(1, 3)}$setMag$f", value, FloatData(value))
    if kind == "StrTm":
        # Far ahead (READY, never running during the test), long over (refused) or cleared (0).
        # Clearing the only start time of an enabled schedule leaves it nothing to wait for: NOT_READY.
        start = rng.choice([math.floor(time.time()) + rng.randint(3600, 7200), 1_000_000_000, 0])
        data = TimestampData(datetime.fromtimestamp(start, UTC))
        disables = None if start else f"{schedule}.{ENABLED}"
        return Command(f"{schedule}$SP$StrTm01$setTm", float(start), data, disables)
    bounds = {"NumEntr": (0, 3), "SchdIntv": (1, 900), "SchdPrio": (1, 80)}[kind]
    value = rng.randint(*bounds)
    return Command(f"{schedule}$SP${kind}$setVal", value, IntData(value))


def items() -> list[str]:
    """Every item the random commands touch."""
    found = [RESERVE_PRIO]
    for schedule in RANDOM:
        found += [f"{schedule}$SP$ValASG00{k}$setMag$f" for k in (1, 2, 3)]
        found += [f"{schedule}$SP${p}$setVal" for p in ("NumEntr", "SchdIntv", "SchdPrio")]
        found += [f"{schedule}$SP$StrTm01$setTm", f"{schedule}.{ENABLED}"]
    return found


def read_item(client: MmsClient, item: str) -> object:
    if item.endswith(ENABLED):
        state = read(client, f"{item.partition('.')[0]}$ST$SchdSt$stVal")
        assert state in (1, 3), f"{item}: SchdSt {state}"  # READY with its start far ahead, or NOT_READY
        return state == 3
    return read(client, item)


def serving(daemon: Daemon, port: int) -> MmsClient:
    """The first association the restarted daemon accepts (it logs only warnings: the pipe stays empty)."""
    deadline = time.monotonic() + SERVING_TIMEOUT_S
    while True:
        try:
            return connect(port)
        except (MmsError, OSError):
            if daemon.proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def running_entry_recovered(client: MmsClient, start: float, spawned: float) -> float | None:
    """Check the running schedule shows the right entry (one read of ValMV: value, q and t together) and
    return how long after the spawn of the daemon that read completed (None: its run had not begun)."""
    before = time.time()
    data = client.read(ObjectName(f"{RUNNING.fsch}$MX$ValMV", LD))
    after = time.time()
    if not start or before < start:
        return None
    assert isinstance(data, StructureData)
    magnitude, quality, stamp = data.members
    assert isinstance(magnitude, StructureData)
    assert isinstance(quality, BitStringData)
    assert isinstance(stamp, TimestampData)
    if any(quality.value):  # the run's first boundary reaches the model STATUS_DELAY_S after it: not yet
        assert before - start < MIRROR_LAG_S, f"ValMV quality {quality.value!r} {before - start:.2f} s in"
        return None
    boundary = stamp.value.timestamp()  # the nominal time of the entry shown
    entry = round(boundary - start) + 1
    assert boundary <= after, "an entry from the future"
    # A boundary reaches the MMS model STATUS_DELAY_S after its outputs (its device commands go first).
    late = before - boundary - 1
    assert late < MIRROR_LAG_S, f"entry {entry} shown {late:.2f} s after it ended"
    assert getattr(magnitude.members[0], "value", None) == RUNNING.values[entry - 1]
    return after - spawned


def run_until_killed(client: MmsClient, daemon: Daemon, rng: random.Random, model: Model) -> None:
    """Random commands until the kill timer fires; the one in flight then is recorded as either way."""
    killer = threading.Timer(rng.uniform(0.0, 0.3), daemon.proc.kill)
    killer.start()
    try:
        while True:
            command = random_command(rng)
            try:
                command.send(client)
            except (DataAccessError, ControlError):
                model.refused += 1
                if command.item.endswith(ENABLED):  # a refused enable leaves the schedule NOT_READY
                    model.possible[command.item] = {False}
                continue
            except (MmsError, OSError):
                command.may_have_taken_effect(model)
                model.in_flight += 1
                return
            model.answered += 1
            command.took_effect(model)
    finally:
        killer.join()


def test_sigkill_at_random_moments_keeps_every_answered_write_and_the_running_entry(tmp_path: Path) -> None:
    rng = random.Random(20240607)
    model = Model()
    recoveries: list[float] = []
    start = 0.0
    startup_kills = 0
    for cycle in range(CYCLES + 1):  # the last start only checks
        args = GatewayArgs(tmp_path / "state")
        spawned = time.time()
        with running([*args.argv(), "--log-level", "warning"]) as daemon:
            if cycle < CYCLES and rng.random() < STARTUP_KILLS:
                time.sleep(rng.uniform(0.0, 0.8))  # the kill moment: in imports, the restore or serving
                daemon.proc.kill()
                startup_kills += 1
                continue
            client = serving(daemon, args.mms_port)
            try:
                if (recovered := running_entry_recovered(client, start, spawned)) is not None:
                    recoveries.append(recovered)
                for item in items():
                    model.settle(item, read_item(client, item))
                if cycle == CYCLES:
                    break
                if start + len(RUNNING.values) - time.time() < 15:  # renew the running schedule in time
                    start = float(math.ceil(time.time() + 1))
                    program(client, Schedule(RUNNING.fsch, RUNNING.values, start, prio=RUNNING.prio))
                run_until_killed(client, daemon, rng, model)
            finally:
                client.close()
    print(  # noqa: T201 - the numbers of the run, shown with -s or on failure
        f"\n{CYCLES} kills ({startup_kills} at start-up); commands: {model.answered} answered,"
        f" {model.refused} refused, {model.in_flight} in flight; running entry right"
        f" {statistics.median(recoveries):.2f} s (median), {max(recoveries):.2f} s (max) after the restart"
    )
    assert model.answered >= 200
    assert model.refused >= 20
    # how soon is bench/recovery's figure (a target, not a test); here: the entry was checked, and right
    assert len(recoveries) >= (CYCLES - startup_kills) // 2
