"""`[hedera]`: loaded from TOML, checked, and its secret read only from a file nobody else can read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from relevent.config import load_settings
from relevent.errors import ConfigError
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.verdicts import ActorSlots
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load
from relevent.wan.hedera import ems
from relevent.wan.hedera.service import targets
from tests.conftest import REPO, ReferenceDir

MRID = "0b7bb1a4-4f7a-4a5c-a0a1-4a7e3c5b1f01"
SECTION = f"""
[hedera]
enabled = true
client_id = "client"
client_secret_file = "{{secret}}"
[hedera.import]
mrid = "{MRID}"
hedera_direction = "I"
firm_capacity_w = 1000
"""


def write(tmp_path: Path, text: str, secret_mode: int = 0o600) -> Path:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    secret.chmod(secret_mode)
    config = tmp_path / "gateway.toml"
    config.write_text(text.replace("{secret}", str(secret)))
    return config


def test_a_direction_with_its_firm_capacity_and_the_secret_from_its_file(tmp_path: Path) -> None:
    hedera = load_settings(write(tmp_path, SECTION)).hedera
    assert list(hedera.directions()) == ["IMPORT"]
    assert hedera.directions()["IMPORT"].firm_capacity_w == 1000.0
    assert hedera.client_secret().get_secret_value() == "s3cr3t"
    assert hedera.ems.reply() == "hedera-requests/reply"


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_a_secret_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    hedera = load_settings(write(tmp_path, SECTION, mode)).hedera
    with pytest.raises(ConfigError, match="readable by others") as caught:
        hedera.client_secret()
    assert "s3cr3t" not in str(caught.value)


def test_the_systemd_credential_is_the_default_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hedera_client_secret").write_text("from-systemd")
    (tmp_path / "hedera_client_secret").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    hedera = load_settings(write(tmp_path, SECTION.replace('client_secret_file = "{secret}"\n', ""))).hedera
    assert hedera.client_secret().get_secret_value() == "from-systemd"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('client_id = "client"', 'client_id = ""'), "needs client_id"),
        (('hedera_direction = "I"', 'hedera_direction = "X"'), "hedera_direction"),
        (("firm_capacity_w = 1000", "firm_capacity_w = -1"), "firm_capacity_w"),
        (
            ("enabled = true", 'enabled = true\nbase_url = "http://example.com"'),
            "plain http only to loopback",
        ),
        (("[hedera.import]", "[hedera.import]\nslot = 1"), "slot"),
    ],
)
def test_bad_sections_are_refused_with_the_key(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(write(tmp_path, SECTION.replace(*change)))


def test_committed_ems_schemas_equal_the_generated_ones() -> None:
    directory = REPO / "docs" / "schemas" / "hedera"
    committed = {path.name: path.read_text(encoding="utf-8") for path in directory.glob("*.json")}
    assert committed == ems.render(), "run: python -m relevent.wan.hedera.ems docs/schemas/hedera"


def test_the_schema_tool_writes_into_the_directory_it_is_given(tmp_path: Path) -> None:
    tool = [sys.executable, "-m", "relevent.wan.hedera.ems", "out"]
    (tmp_path / "out").mkdir()
    result = subprocess.run(tool, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ems.render())


@pytest.mark.parametrize(
    ("share", "controller", "problem"),
    [
        (None, "@Control/MaxPow_FSCC1", 'name = "hedera"'),
        (((20, 20), ("MaxPow_FSCH01", "MaxPow_FSCH02")), "@Control/MaxPow_FSCC1", "one wide"),
        (((20, 21), ("MaxPow_FSCH01",)), "@Control/MaxPow_FSCC1", "two slots"),
        (((20, 21), ("ActPow_FSCH01", "ActPow_FSCH02")), "@Control/ActPow_FSCC1", "no MaxPow"),
        (((20, 21), ("MaxPow_FSCH01", "MaxPow_FSCH02")), "@Control/Nope_FSCC1", "no MaxPow"),
    ],
)
def test_directions_the_model_and_the_actor_cannot_serve_are_refused(
    tmp_path: Path, share: tuple[tuple[int, int], tuple[str, ...]] | None, controller: str, problem: str
) -> None:
    doc = load(DEFAULT_MODEL)
    model = model_spec(doc)
    text = SECTION.replace("firm_capacity_w = 1000", f'firm_capacity_w = 1000\ncontroller = "{controller}"')
    hedera = load_settings(write(tmp_path, text)).hedera
    actor = (
        None
        if share is None
        else ActorSlots(share[0], tuple(f"{model.ied_name}Control/{s}" for s in share[1]))
    )
    with pytest.raises(ConfigError, match=problem):
        targets(hedera, model, doc, actor)


def test_a_usable_direction_has_its_units_and_the_capacity_beside_the_firm_slot(tmp_path: Path) -> None:
    doc = load(DEFAULT_MODEL)
    model = model_spec(doc)
    hedera = load_settings(write(tmp_path, SECTION)).hedera
    slots = tuple(f"{model.ied_name}Control/MaxPow_FSCH0{i}" for i in (1, 2, 3))
    [target] = targets(hedera, model, doc, ActorSlots((20, 21), slots)).values()
    assert target.watts_per_unit == 1000.0  # the model's MaxPow is in kW
    assert target.capacity == 200  # three 100-value slots, one kept for the firm capacity


@pytest.mark.parametrize(("model", "warned"), [("default", False), ("relevent_scheduling", True)])
def test_a_reserve_above_the_firm_capacity_is_warned_about(
    tmp_path: Path, reference_dir: ReferenceDir, model: str, warned: bool
) -> None:
    doc = load(reference_dir.model(model))
    spec = model_spec(doc)
    hedera = load_settings(write(tmp_path, SECTION)).hedera
    slots = tuple(f"{spec.ied_name}Control/MaxPow_FSCH0{i}" for i in (1, 2))
    with capture_logs() as logs:
        targets(hedera, spec, doc, ActorSlots((20, 21), slots))
    found = [e for e in logs if e["event"] == "the reserve schedule allows more than the firm capacity"]
    assert bool(found) is warned
    if warned:
        assert found[0]["reserve_w"] == 2.2e6  # ReLevENT's model: 2200 in kW
