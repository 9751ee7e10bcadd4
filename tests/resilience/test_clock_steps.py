"""NTP steps the wall clock of the real daemon forward and back during a schedule of 1 s entries.

The daemon runs under libfaketime (`faketime` package): its wall clock is the real one plus an offset the
test rewrites, its monotonic clock (loop time) stays real, exactly as during an NTP step. The gateway
has no test hook for this. A device over MQTT sees every output change: after each step the output must
jump once to the entry of the new time and then move on one entry per second, no burst of the boundaries
skipped or repeated.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.gateway import KW, Schedule, connect, device_and_gateway, read, scada_programs
from tests.mosquitto import Broker, Inbox

pytestmark = pytest.mark.slow

QUIET = "[mqtt]\nheartbeat_s = 60\n"
VALUES = [float(entry) for entry in range(1, 61)]  # kW; entry k outputs k
FORWARD_S, BACKWARD_S = 30, -20
JUMP_S = 1.5  # the watcher looks every second; a timer may notice the step sooner


@dataclass
class SteppedClock:
    """The daemon's wall clock: real time + `offset`, read by libfaketime from `path` on every call."""

    path: Path
    library: str
    offset: int = 0

    @property
    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": self.library,
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "DONT_FAKE_MONOTONIC": "1",
        }

    def step(self, by_s: int) -> None:
        self.offset += by_s
        staged = self.path.with_suffix(".new")
        staged.write_text(f"{self.offset:+d}\n")
        staged.replace(self.path)  # atomic: the daemon never reads a half-written offset

    def now(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(tmp_path: Path) -> SteppedClock:
    libraries = [str(p) for p in Path("/usr/lib").glob("*/faketime/libfaketime.so.1")]
    if not libraries:  # `make test` installs it: a missing library is a broken set-up, not a skip
        pytest.fail("libfaketime not found: apt-get install faketime")
    stepped = SteppedClock(tmp_path / "faketime", libraries[0])
    stepped.step(0)
    return stepped


async def outputs_for(inbox: Inbox, seconds: float) -> list[tuple[float, float]]:
    """(arrival, value in kW) of every command the device gets within `seconds` (or has queued).

    A command delivered twice (same id: QoS 1 allows a redelivery) counts once; the gateway's repeats
    have ids of their own and count.
    """
    found = []
    ids = set()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            command = await inbox.next_json(left)
        except TimeoutError:
            break
        if command["id"] not in ids:
            ids.add(command["id"])
            found.append((time.monotonic(), command["w_set"] / KW))
    return found


def assert_follows(outputs: list[tuple[float, float]], expected_first: float) -> None:
    """One jump to the entry of the new time, then one entry per second: no burst, nothing skipped.

    The jump comes when the step is noticed (at the next timer, or the watcher's next look), so only the
    gaps after it are whole seconds. A command repeating the value before it is no boundary (the device
    also follows other controllers); one such repeat is tolerated, a storm of them is not.
    """
    distinct = [o for i, o in enumerate(outputs) if i == 0 or o[1] != outputs[i - 1][1]]
    assert len(outputs) - len(distinct) <= 1, f"repeated commands: {outputs}"
    values = [value for _, value in distinct]
    assert values[0] in (expected_first, expected_first + 1), values
    assert values == [values[0] + k for k in range(len(values))], values
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(distinct)]
    assert all(gap > 0.5 for gap in gaps[1:]), f"a burst of boundaries: {gaps}"


async def test_outputs_follow_forward_and_backward_wall_clock_steps_without_boundary_storms(
    broker: Broker, tmp_path: Path, clock: SteppedClock
) -> None:
    async with device_and_gateway(broker, tmp_path, QUIET, env=clock.env) as (gw, _, inbox):
        start = float(math.ceil(clock.now() + 1))
        await scada_programs(gw.mms_port, Schedule("ActPow_FSCH01", VALUES, start, prio=90))
        listening = clock.now()
        before = await outputs_for(inbox, max(0.0, start - listening) + 3.5)
        assert_follows(before, expected_first=max(1, math.floor(listening - start) + 1))
        assert len(before) >= 3

        for by_s in (FORWARD_S, BACKWARD_S):
            # Mid-entry, so no boundary of the old time is in flight (nor queued) while the clock steps.
            await outputs_for(inbox, (0.5 - clock.now() % 1) % 1)
            clock.step(by_s)
            stepped, stepped_at = clock.now(), time.monotonic()
            after = await outputs_for(inbox, 3.5)
            assert after[0][0] - stepped_at < JUMP_S, "the output did not follow the new time in time"
            assert_follows(after, expected_first=math.floor(stepped - start) + 1)
            logged = gw.daemon.wait_for("wall clock step detected", timeout=3)
            assert logged["by_s"] == pytest.approx(by_s, abs=0.5)
            gw.daemon.lines.remove(logged)  # the next step logs its own line

        client = connect(gw.mms_port)
        try:
            entry = read(client, "ActPow_FSCH01$ST$SchdEntr$stVal")
            expected = math.floor(clock.now() - start) + 1
            assert entry in (expected - 1, expected)
        finally:
            client.close()
