"""Fixtures of the MMS server tests: every served model parsed once, one libiec61850 client process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relevent.scl.generate import DEFAULT_MODEL, write_scl
from relevent.scl.model import SclDocument
from relevent.scl.parse import load
from tests.conftest import REFERENCE_MODELS
from tests.mms.iec_client import IecClient

MODEL_NAMES = [*REFERENCE_MODELS, "default"]


@pytest.fixture(scope="session")
def docs(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SclDocument]:
    """The reference models and the project's default model (generated when not committed yet)."""
    assert shared_dir.is_dir()
    default = DEFAULT_MODEL
    if not default.is_file():  # until the generated model is committed
        default = write_scl(None, tmp_path_factory.mktemp("scl") / "default.cid")
    return {name: load(path) for name, path in {**REFERENCE_MODELS, "default": default}.items()}


@pytest.fixture(scope="session")
def reference(docs: dict[str, SclDocument]) -> SclDocument:
    """The DER scheduler reference model."""
    return docs["der_scheduler"]


@pytest.fixture(scope="module")
def iec_client() -> Iterator[IecClient]:
    """A libiec61850 client in its own process; tests connect it to their server."""
    client = IecClient()
    yield client
    client.close()
