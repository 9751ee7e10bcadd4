"""Fixtures of the MMS server tests: every served model parsed once, one libiec61850 client process."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from relevent.scl.model import SclDocument
from relevent.scl.parse import load
from tests.conftest import SHIPPED, ReferenceDir
from tests.mms.iec_client import IecClient


@pytest.fixture(scope="session")
def docs(reference_dir: ReferenceDir) -> Callable[[str], SclDocument]:
    """Every served model by its name in `MODEL_NAMES`, parsed once."""

    @functools.cache
    def doc(name: str) -> SclDocument:
        return load(reference_dir.model(name))

    return doc


@pytest.fixture(scope="session")
def reference(docs: Callable[[str], SclDocument]) -> SclDocument:
    """The shipped DER scheduler model (the reference model's layout, with an MMXU): on every clone."""
    return docs(SHIPPED)


@pytest.fixture(scope="module")
def iec_client() -> Iterator[IecClient]:
    """A libiec61850 client in its own process; tests connect it to their server."""
    client = IecClient()
    yield client
    client.close()
