"""Fixtures shared by every test: paths of the repo and of the shared reference material."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
XSD_DIR = SHARED / "scl-xsd" / "SCL2007B4"
REFERENCE_MODELS = {
    "der_scheduler": MODELS / "der_scheduler.cid",
    "relevent_scheduling": MODELS / "relevent" / "scheduling-config" / "model.cid",
    "relevent_minimal": MODELS / "relevent" / "minimal-config" / "model.cid",
}


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the checkout; CI always provides it, so its absence is an error."""
    if not MODELS.is_dir():
        pytest.fail(f"reference material missing: {MODELS} (CI lays ../shared beside the checkout)")
    return SHARED


from tests.mosquitto import broker, broker_factory, secure_broker, tls_broker, tls_files  # noqa: E402, F401
from tests.pki import pki  # noqa: E402, F401
