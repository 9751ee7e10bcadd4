"""Tests on a plain clone: missing reference files are one visible skip, or a failure where CI needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REFERENCE_DIR_ENV, REPO, REQUIRE_REFERENCE_ENV

pytestmark = pytest.mark.slow

# A file with reference-only tests and tests on the shipped model.
MIXED = "tests/scl/test_parse.py"


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (REFERENCE_DIR_ENV, REQUIRE_REFERENCE_ENV)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", MIXED],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_without_the_reference_directory_its_tests_are_skipped_with_one_reason(tmp_path: Path) -> None:
    absent = tmp_path / "nowhere"
    result = _pytest(tmp_path, **{REFERENCE_DIR_ENV: str(absent)})
    assert result.returncode == 0, result.stdout
    reasons = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(reasons) == 1, result.stdout  # every skip gives the same reason: pytest prints it once
    assert f"reference directory {absent} absent (set ${REFERENCE_DIR_ENV})" in reasons[0]
    assert " passed" in result.stdout  # the tests on the shipped model still run


def test_where_the_reference_is_required_its_absence_fails(tmp_path: Path) -> None:
    absent = tmp_path / "nowhere"
    result = _pytest(tmp_path, **{REFERENCE_DIR_ENV: str(absent), REQUIRE_REFERENCE_ENV: "1"})
    assert result.returncode == 1
    assert f"{REQUIRE_REFERENCE_ENV}=1 requires it" in result.stdout
    assert " skipped" not in result.stdout
