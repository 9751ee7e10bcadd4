"""Wheel build hook: shell completion and man pages generated from the command-line parsers.

They land in the wheel's shared data (`share/bash-completion/completions`, `share/zsh/site-functions`,
`share/man/man1`), so an installation carries them for the very version it installs. The parsers import
the gateway, hence `require-runtime-dependencies` in pyproject.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PROGRAMS = ("relevent-gw", "relevent-ctl")
KINDS = {  # kind -> where it is installed, the file name for a program
    "bash": ("share/bash-completion/completions", "{prog}"),
    "zsh": ("share/zsh/site-functions", "_{prog}"),
    "man": ("share/man/man1", "{prog}.1"),
}


class CompletionHook(BuildHookInterface):
    """Generates the files into `build/share` and hands them to the wheel as shared data."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Run `python -m relevent.completion` for each kind and program (not for an editable install)."""
        if version == "editable":  # a checkout: `make completion` writes them under build/
            return
        root = Path(self.root)
        out = root / "build" / "share"
        # this tree first, then whatever the build environment put on the path (pip's overlay included)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *filter(None, sys.path)])}
        for kind, (target, name) in KINDS.items():
            for prog in PROGRAMS:
                text = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
                    [sys.executable, "-m", "relevent.completion", kind, prog],
                    check=True, capture_output=True, text=True, env=env, cwd=root,
                ).stdout
                path = out / kind / name.format(prog=prog)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                build_data["shared_data"][str(path)] = f"{target}/{path.name}"
