"""The reference table gives back every reference, in order, by index."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relevent.wan.mms.ref_table import RefTable

NAMES = st.text("abcXY_1", min_size=1, max_size=4)
REFS = st.lists(st.tuples(NAMES, st.lists(NAMES, min_size=1, max_size=3)), max_size=30).map(
    lambda items: [f"LD/{owner}.{'.'.join(path)}" for owner, path in items]
)


@given(REFS)
def test_every_reference_comes_back_in_order(refs: list[str]) -> None:
    table = RefTable(refs)
    assert len(table) == len(refs)
    assert list(table) == refs
    assert [table[i] for i in range(len(refs))] == refs


def test_logical_nodes_of_one_shape_share_their_paths() -> None:
    refs = [f"LD/FSCH{n}.{path}" for n in (1, 2) for path in ("A.setVal", "B.setMag.f")]
    table = RefTable(refs)
    assert table._groups[0][1] is table._groups[1][1]
    assert table[3] == "LD/FSCH2.B.setMag.f"


@pytest.mark.parametrize("index", [-1, 4])
def test_an_index_outside_is_an_index_error(index: int) -> None:
    with pytest.raises(IndexError):
        RefTable(["LD/A.x", "LD/A.y", "LD/B.x", "LD/B.y"])[index]
