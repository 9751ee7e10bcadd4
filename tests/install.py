"""The operator guide's commands, run as written under a temporary root directory.

Absolute paths in them are taken under the root; what needs the real system (apt-get, pip into /opt,
systemctl) stays out and is provided the way it would have left things.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "operator-guide.md"


def guide_steps(heading: str, block: int = 0) -> list[list[str]]:
    """The commands of the `block`th `sh` block of the operator guide's section `heading`, as words."""
    flags = re.DOTALL | re.MULTILINE
    section = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", GUIDE.read_text(), flags)
    assert section is not None, f"no section {heading!r} in {GUIDE.name}"
    blocks = re.findall(r"```sh\n(.*?)```", section.group(1), re.DOTALL)
    assert len(blocks) > block, f"no sh block {block} under {heading!r} in {GUIDE.name}"
    steps = [shlex.split(line.partition("#")[0]) for line in blocks[block].splitlines()]
    return [words for words in steps if words]


def rooted(words: list[str], root: Path) -> list[str]:
    """A command's words with its absolute paths under `root` (standard input stays itself)."""
    return [f"{root}{word}" if word.startswith("/") and word != "/dev/stdin" else word for word in words]


def run_step(words: list[str], root: Path, stdin: str = "") -> None:
    """Run one of the guide's commands under `root`, from the checkout (its relative paths are its files)."""
    command = rooted(words, root)
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=60, input=stdin.encode())


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A root directory where the guide's install section ran: its user and its `install` steps, with the
    host's systemd units and `/opt/relevent-gw/bin/relevent-gw` (what its pip step makes)."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for folder in ("etc/systemd/system", "opt/relevent-gw/bin"):
        (root / folder).mkdir(parents=True)
    entry_point = shutil.which("relevent-gw", path=Path(sys.executable).parent)
    assert entry_point is not None, "relevent-gw is not installed beside the test interpreter"
    shutil.copy(entry_point, root / "opt/relevent-gw/bin/relevent-gw")
    for step in guide_steps("## Install"):
        if step[0] == "install":
            run_step(step, root)
        elif step[0] == "systemd-sysusers":  # under --root it reads its files there: hand it the lines
            text = "".join((REPO / name).read_text() for name in step[1:])
            lines = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
            run_step(["systemd-sysusers", f"--root={root}", "--inline", lines], root)
    return root
