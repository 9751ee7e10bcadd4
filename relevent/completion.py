"""Shell completion (bash, zsh) and a man page, generated from the command-line parsers.

`python -m relevent.completion bash|zsh|man relevent-gw|relevent-ctl` prints one; `make completion`
writes them all under `build/`. Generated from the same `argparse` parsers the commands use, so they
cannot drift from them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from relevent import __version__
from relevent.cli import build_parser as gateway_parser
from relevent.ctl.cli import build_parser as ctl_parser

PARSERS = {"relevent-gw": gateway_parser, "relevent-ctl": ctl_parser}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], argparse.ArgumentParser]
]:  # fmt: skip
    """Every (sub)command as (its words after the program, its parser), the program itself first."""
    yield path, parser
    for name, sub in subcommands(parser).items():
        yield from commands(sub, (*path, name))


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's options (not its positionals or subcommands), help last."""
    found = [a for a in parser._actions if a.option_strings]  # noqa: SLF001
    return sorted(found, key=lambda a: isinstance(a, argparse._HelpAction))  # noqa: SLF001


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's direct subcommands by name."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of its subcommands
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            found.update(action.choices)
    return found


def bash(prog: str) -> str:
    """A bash completion script: subcommands, then each command's options."""
    parser = PARSERS[prog]()
    function = "_" + prog.replace("-", "_")
    words, subs = [], []
    for path, sub in commands(parser):
        key = " ".join((prog, *path))  # bash refuses an empty key
        names = list(subcommands(sub))
        words.append(f'    ["{key}"]="{" ".join([*names, *_flags(sub)])}"')
        subs.append(f'    ["{key}"]="{" ".join(names)}"')
    return "\n".join([
        f"# bash completion for {prog} {__version__}, made from its parser by python -m relevent.completion",
        f"{function}() {{",
        "  local -A words=(", *words, "  )",
        "  local -A subs=(", *subs, "  )",
        f'  local path="{prog}" word i',
        "  for ((i = 1; i < COMP_CWORD; i++)); do",
        '    word="${COMP_WORDS[i]}"',
        '    [[ " ${subs[$path]} " == *" $word "* ]] && path="$path $word"',
        "  done",
        '  COMPREPLY=($(compgen -W "${words[$path]}" -- "${COMP_WORDS[COMP_CWORD]}"))',
        "}",
        f"complete -F {function} {prog}",
        "",
    ])  # fmt: skip


def zsh(prog: str) -> str:
    """A zsh completion file: the bash script, run by zsh's bash completion layer."""
    return f"#compdef {prog}\nautoload -U +X bashcompinit && bashcompinit\n{bash(prog)}"


def man(prog: str) -> str:
    """A man page (section 1, groff) with every command and option."""
    parser = PARSERS[prog]()
    lines = [
        f'.TH {prog.upper()} 1 "" "relevent-gw {__version__}" "User Commands"',  # no date: reproducible
        ".SH NAME", f"{prog} \\- {_roff((parser.description or '').strip().splitlines()[0])}",
        ".SH SYNOPSIS", f".B {prog}", "[\\fIOPTIONS\\fR] [\\fICOMMAND\\fR]",
    ]  # fmt: skip
    for path, sub in commands(parser):
        title = " ".join((prog, *path))
        lines += [".SH " + ("OPTIONS" if not path else _roff(title.upper()))]
        if path and sub.description:
            lines.append(_roff(sub.description.strip()))
        for action in options(sub):
            lines += [".TP", f".B {_roff(', '.join(action.option_strings))}", _roff(_help(action))]
    lines += [".SH SEE ALSO", "relevent-ctl(1); the guides in docs/ of the source distribution", ""]
    return "\n".join(lines)


def _help(action: argparse.Action) -> str:
    """The option's help as `--help` prints it (`%(default)s` and the like filled in)."""
    text = action.help or ""
    try:
        return text % vars(action)
    except (KeyError, TypeError, ValueError):
        return text


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in options(parser) for flag in action.option_strings]


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes doubled, a leading dot or quote escaped."""
    text = text.replace("\\", "\\\\")
    return "\\&" + text if text.startswith((".", "'")) else text


def main(argv: list[str] | None = None) -> int:
    """Print the completion script or man page asked for."""
    ask = argparse.ArgumentParser(prog="python -m relevent.completion", description=__doc__.splitlines()[0])
    ask.add_argument("kind", choices=["bash", "zsh", "man"])
    ask.add_argument("prog", choices=sorted(PARSERS))
    args = ask.parse_args(argv)
    sys.stdout.write({"bash": bash, "zsh": zsh, "man": man}[args.kind](args.prog))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
