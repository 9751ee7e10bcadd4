from __future__ import annotations

from pathlib import Path

import pytest

from relevent.scheduler.commands import Accepted

from .factory import BASE, ln, small_spec
from .harness import start_engine

pytestmark = pytest.mark.looptime


async def test_smoke(db: Path) -> None:
    h = start_engine(small_spec(), db)
    s1 = ln("F_FSCH01")
    result = h.program(s1, values=[1.0, 2.0, 3.0], intv=60, prio=20, starts=[BASE + 60])
    assert isinstance(result, Accepted), result
    await h.sleep_until(BASE + 400)
    outs = h.recorder.outputs()
    assert [(o.timestamp - BASE, o.value) for o in outs] == [(60, 1.0), (120, 2.0), (180, 3.0), (240, None)]
