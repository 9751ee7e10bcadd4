"""Configuration problems as a person reads them: where each one was set, and the key probably meant.

A problem names its origin by the settings' precedence: the command line, an environment variable, the
TOML file with its line, or a systemd credential; a value nobody set is a default's (a section's check).
Only keys and messages are shown, never values: a value may be a secret.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]

_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[\w-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[\w-]+|"[^"]*"|'[^']*'))*)\s*=""")
_QUOTED = {"int_type", "float_type", "bool_type"}  # a string in the file where TOML has a type of its own


@dataclass(frozen=True)
class Origins:
    """Where settings came from, to name each problem's origin."""

    config_file: Path | None
    toml_text: str
    overrides: Mapping[str, Any]  # command line: {section: {key: value}}
    environ: Mapping[str, str]
    env_prefix: str
    credentials: Path | None  # $CREDENTIALS_DIRECTORY


def describe(
    errors: Sequence[ErrorDetails],
    file_errors: Sequence[ErrorDetails],
    model: type[BaseModel],
    origins: Origins,
) -> str:
    """Every problem in one paragraph, `origin: dotted.key: message`, the file's in line order.

    `errors` are those of the values in effect, whatever set them; `file_errors` those of the file alone.
    """
    where = _Where(origins)
    tagged = [(error, False) for error in errors] + [(error, True) for error in file_errors]
    problems = [_problem(e, model, where.origin(tuple(e["loc"]), in_file=f), in_file=f) for e, f in tagged]
    return "invalid configuration: " + "; ".join(text for _, text in sorted(problems, key=lambda p: p[0]))


def toml_lines(text: str) -> dict[Loc, int]:
    """The line of each table and key of a TOML text; the n-th `[[name]]` is `(name, n)`."""
    lines: dict[Loc, int] = {}
    table: Loc = ()
    tables_seen: dict[Loc, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if header := _TABLE.match(line):
            name = _key_parts(header[2])
            if header[1] == "[[":
                table = (*name, tables_seen.get(name, 0))
                tables_seen[name] = int(table[-1]) + 1
            else:
                table = name
            lines.setdefault(table, number)
        elif key := _KEY.match(line):
            lines.setdefault((*table, *_key_parts(key[1])), number)
    return lines


def nearest_key(model: type[BaseModel], loc: Loc) -> str | None:
    """The valid key closest to the last one of `loc` (a typo), or None when nothing is close."""
    parent = _model_at(model, loc[:-1])
    if parent is None or not loc or not isinstance(loc[-1], str):
        return None
    names = [info.alias or name for name, info in parent.model_fields.items()]
    return next(iter(difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)), None)


def _problem(
    error: ErrorDetails, model: type[BaseModel], origin: tuple[str, int], *, in_file: bool
) -> tuple[int, str]:
    """The problem's text, and its file line to sort by (0: set elsewhere, first)."""
    loc = tuple(error["loc"])
    where, line = origin
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        near = nearest_key(model, loc)
        message = f"unknown key (did you mean {near}?)" if near else "unknown key"
    elif in_file and error["type"] in _QUOTED and isinstance(error.get("input"), str):
        message += " (a quoted value is text in TOML: write it without quotes)"
    name = ".".join(map(str, loc)) or "(top)"
    return line, f"{where}: {name}: {message}" if where else f"{name}: {message}"


class _Where:
    """Finds the source that set a key."""

    def __init__(self, origins: Origins) -> None:
        self._origins = origins
        self._lines = toml_lines(origins.toml_text)
        self._env = {name.upper(): name for name in origins.environ}

    def origin(self, loc: Loc, *, in_file: bool) -> tuple[str, int]:
        """The highest-precedence source that set `loc` (or the nearest table holding it), and its line."""
        origins, lines = self._origins, self._lines
        keys = [str(part) for part in itertools.takewhile(lambda part: isinstance(part, str), loc)]
        section = origins.overrides.get(keys[0], {}) if keys else {}
        if not in_file and len(loc) > 1 and isinstance(section, Mapping) and loc[1] in section:
            return "command line", 0
        for n in range(0 if in_file else len(keys), 0, -1):
            name = (origins.env_prefix + "__".join(keys[:n])).upper()
            if name in self._env:
                return f"environment {self._env[name]}", 0
        for n in range(len(loc), 0, -1):
            if loc[:n] in lines:
                return f"{origins.config_file}:{lines[loc[:n]]}", lines[loc[:n]]
        if origins.credentials is not None and keys and (origins.credentials / "__".join(keys)).is_file():
            return f"credential {'__'.join(keys)}", 0
        return "", 0


def _model_at(model: type[BaseModel], path: Loc) -> type[BaseModel] | None:
    """The model of the table at `path` (entries of `[[name]]` tables included), or None."""
    current: type[BaseModel] | None = model
    for part in (p for p in path if isinstance(p, str)):  # an int indexes the entries of a `[[name]]`
        fields = current.model_fields if current else {}
        info = next((i for n, i in fields.items() if part in (n, i.alias)), None)
        if info is None:
            return None
        candidates = [info.annotation, *get_args(info.annotation)]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return current


def _key_parts(dotted: str) -> Loc:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))
