"""Every public class of the gateway has a name of its own: a reader never needs the import line to know
which `Output` or `Admission` is meant."""

from __future__ import annotations

import ast
from collections import defaultdict

from tests.conftest import REPO


def test_no_two_public_classes_share_a_name() -> None:
    defined: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted((REPO / "relevent").rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                defined[node.name].append(str(path.relative_to(REPO)))
    assert {name: where for name, where in defined.items() if len(where) > 1} == {}
