"""Fixtures shared by every test: the repo's path and the third-party reference files beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from relevent.scl.generate import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
# Third-party reference files are never copied into the repository: they come from this directory.
REFERENCE_DIR_ENV = "RELEVENT_REFERENCE_DIR"
DEFAULT_REFERENCE_DIR = REPO.parent / "shared"
# Set by `.ci/run`: there a missing reference file fails its test instead of skipping it.
REQUIRE_REFERENCE_ENV = "RELEVENT_REQUIRE_REFERENCE"
# The reference SCL models by name, relative to the reference directory.
REFERENCE_MODELS = {
    "der_scheduler": "models/der_scheduler.cid",
    "relevent_scheduling": "models/relevent/scheduling-config/model.cid",
    "relevent_minimal": "models/relevent/minimal-config/model.cid",
}
SHIPPED = "default"  # the name of the repository's own model among them, on every clone
MODEL_NAMES = [*REFERENCE_MODELS, SHIPPED]


@dataclass(frozen=True)
class ReferenceDir:
    """The reference directory; each accessor skips its test (or fails it, when required) if it is absent."""

    root: Path

    def file(self, relative: str) -> Path:
        """A reference file by its path relative to the directory, e.g. `hedera/examples/x.json`."""
        if not self.root.is_dir():
            _missing(f"reference directory {self.root} absent (set ${REFERENCE_DIR_ENV})")
        path = self.root / relative
        if not path.exists():
            _missing(f"reference file {path} absent")
        return path

    def model(self, name: str) -> Path:
        """An SCL model by its name in `MODEL_NAMES`: a reference model or the shipped one (never skipped)."""
        return DEFAULT_MODEL if name == SHIPPED else self.file(REFERENCE_MODELS[name])

    @property
    def xsd(self) -> Path:
        """The folder of the IEC 61850-6 SCL schema (SCL.xsd)."""
        return self.file("scl-xsd/SCL2007B4")


def _missing(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_REFERENCE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_REFERENCE_ENV}=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def reference_dir() -> ReferenceDir:
    """The only way to the third-party reference files (SCL models, IEC XSD, HEDERA examples):
    `$RELEVENT_REFERENCE_DIR`, default `../shared` beside the checkout."""
    return ReferenceDir(Path(os.environ.get(REFERENCE_DIR_ENV) or DEFAULT_REFERENCE_DIR))


from tests.install import installed  # noqa: E402, F401
from tests.mosquitto import broker, broker_factory, secure_broker, tls_broker, tls_files  # noqa: E402, F401
from tests.pki import pki  # noqa: E402, F401
