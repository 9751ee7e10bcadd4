"""Shell completion and man pages made from the parsers: complete, working, reproducible."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from relevent.completion import PARSERS, bash, commands, man, options, zsh

PROGS = sorted(PARSERS)


@pytest.mark.parametrize("prog", PROGS)
def test_every_command_and_option_is_in_the_completion_and_the_man_page(prog: str) -> None:
    script, page = bash(prog), man(prog)
    for path, parser in commands(PARSERS[prog]()):
        if path:
            assert f'["{" ".join((prog, *path))}"]' in script
            assert " ".join((prog, *path)).upper() in page
        for action in options(parser):
            for flag in action.option_strings:
                assert flag in script
                assert flag.replace("-", "\\-") in page or flag in page
    assert zsh(prog).startswith(f"#compdef {prog}\n")
    assert (bash(prog), man(prog)) == (script, page)  # the same parser gives the same files


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")
@pytest.mark.parametrize(
    ("prog", "typed", "offered"),
    [("relevent-gw", ["audit", "v"], "verify"), ("relevent-gw", ["scl", "generate", "--dev"], "--devices"),
     ("relevent-gw", ["che"], "check-config"), ("relevent-ctl", ["--ho"], "--host")],
)  # fmt: skip
def test_bash_completes_subcommands_and_their_options(prog: str, typed: list[str], offered: str) -> None:
    words = " ".join([prog, *typed])
    probe = f'{bash(prog)}\nCOMP_WORDS=({words}); COMP_CWORD={len(typed)}; _{prog.replace("-", "_")}\n'
    probe += 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert offered in result.stdout.split()
