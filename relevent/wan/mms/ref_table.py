"""Hundreds of thousands of object references by index, in little memory.

A site's writable leaves are `LD/LN.path` for every logical node times the paths of its type: the table
keeps one (owner, paths) group per logical node, and logical nodes of one type share one tuple of paths.
100 devices: ~440,000 references in ~1 MiB instead of ~50 MiB of strings.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

from relevent.refs import split_owner

_Paths = tuple[str, ...]


class RefTable:
    """The references of `refs` in their order; `table[i]` rebuilds the i-th (an f-string join)."""

    def __init__(self, refs: Iterable[str]) -> None:
        self._starts: list[int] = []  # index of each group's first reference
        self._groups: list[tuple[str, _Paths]] = []
        shapes: dict[_Paths, _Paths] = {}
        owner: str | None = None
        paths: list[str] = []
        self._count = 0
        for ref in refs:
            ref_owner, path = split_owner(ref)
            if ref_owner != owner:
                self._close(owner, paths, shapes)
                owner, paths = ref_owner, []
            paths.append(path)
        self._close(owner, paths, shapes)

    def _close(self, owner: str | None, paths: list[str], shapes: dict[_Paths, _Paths]) -> None:
        if owner is None:
            return
        shape = shapes.setdefault(tuple(paths), tuple(paths))
        self._starts.append(self._count)
        self._groups.append((owner, shape))
        self._count += len(shape)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < self._count:
            raise IndexError(index)
        group = bisect_right(self._starts, index) - 1
        owner, paths = self._groups[group]
        return f"{owner}.{paths[index - self._starts[group]]}"

    def __iter__(self) -> Iterator[str]:
        for owner, paths in self._groups:
            for path in paths:
                yield f"{owner}.{path}"
