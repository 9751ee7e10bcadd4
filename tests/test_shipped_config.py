"""The shipped example configuration and broker files stay valid and in step with the code."""

from __future__ import annotations

from pathlib import Path

from relevent.config import Settings
from relevent.lan.mqtt.acl import acl_template
from tests.conftest import REPO
from tests.daemon import run_cli

CONFIG = REPO / "config"


def test_example_gateway_toml_passes_check_config(tmp_path: Path) -> None:
    result = run_cli("check-config", "--config", CONFIG / "gateway.toml", "--state-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration ok" in result.stdout


def test_example_gateway_toml_names_every_option() -> None:
    text = (CONFIG / "gateway.toml").read_text()
    for section, model in Settings.model_fields.items():
        if section in {"devices", "actors", "policy", "local_triggers"}:
            assert f"[[{section}]]" in text
            continue
        assert f"[{section}]" in text
        annotation = model.annotation
        assert annotation is not None
        for name, field in annotation.model_fields.items():
            key = field.alias or name  # `import` is a Python keyword: the field is `import_`
            nested = field.annotation is not None and f"[{section}.{key}]" in text
            documented = f"\n{key} = " in text or f"\n# {key} = " in text or nested
            assert documented, f"[{section}] {key} is not documented"


def test_a_bad_device_binding_fails_check_config(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text('[[devices]]\nid = "x"\nclass = "battery"\nw_set = "@Control/Nope_FSCC1"\n')
    result = run_cli("check-config", "--config", config, "--state-dir", tmp_path)
    assert result.returncode == 78
    assert "Nope_FSCC1" in result.stderr


def test_shipped_broker_acl_is_the_one_the_code_generates() -> None:
    assert (CONFIG / "mosquitto" / "relevent.acl").read_text() == acl_template()
