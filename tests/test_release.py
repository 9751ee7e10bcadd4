"""The release: a wheel and an sdist built from this tree, the wheel installed into a fresh venv (as pipx
would: its own environment, nothing from the development one) where the gateway runs.

Needs the package index (the build's backend and the runtime dependencies are downloaded): without it
the test is skipped and says so; CI has it.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from relevent import __version__
from relevent.completion import man

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
OFFLINE = (
    "Failed to establish a new connection", "Temporary failure in name resolution", "No matching distribution"
)


def _run(*args: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*map(str, args)], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 and any(sign in done.stdout + done.stderr for sign in OFFLINE):
        pytest.skip(f"the package index is not reachable: {' '.join(map(str, args[:3]))} failed")
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.timeout(900)
def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, REPO, timeout=600)
    wheel = next(dist.glob("relevent_gw-*.whl"))
    sdist = next(dist.glob("relevent_gw-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    shipped = {"pyproject.toml", "hatch_build.py", "LICENSE", "NOTICE", "relevent/data/der_scheduler.cid"}
    assert shipped <= names
    assert not any(name.startswith(("build/", ".venv/")) for name in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, timeout=120)
    _run(venv / "bin" / "pip", "install", "--quiet", wheel, timeout=600)
    version = _run(venv / "bin" / "relevent-gw", "--version", timeout=60)
    assert __version__ in version.stdout
    state = tmp_path / "state"
    checked = _run(venv / "bin" / "relevent-gw", "check-config", "--state-dir", state, timeout=120)
    assert "ok" in (checked.stdout + checked.stderr).lower()
    generated = ("share/man/man1/relevent-gw.1", "share/man/man1/relevent-ctl.1",
                 "share/bash-completion/completions/relevent-gw", "share/zsh/site-functions/_relevent-ctl")
    for installed in generated:  # from the parsers, by the wheel's build
        assert (venv / installed).is_file(), installed
    assert (venv / "share/man/man1/relevent-gw.1").read_text() == man("relevent-gw")  # this tree's parser
