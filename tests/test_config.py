"""Configuration: TOML, environment and command-line precedence; unknown keys; secrets stay secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from relevent.config import load_settings
from relevent.errors import ConfigError
from relevent.scl.generate import DEFAULT_MODEL
from tests.conftest import REPO


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_defaults_serve_the_shipped_model() -> None:
    settings = load_settings()
    assert settings.scl.path == DEFAULT_MODEL
    assert settings.mms.port == 102
    assert settings.http.host == "127.0.0.1"
    assert settings.mqtt.url == "mqtt://127.0.0.1:1883"


def test_environment_overrides_file_and_command_line_overrides_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _toml(tmp_path, '[gateway]\nid = "site1"\n[mms]\nport = 1102\nhost = "10.0.0.1"\n')
    monkeypatch.setenv("RELEVENT_MMS__PORT", "2102")
    monkeypatch.setenv("RELEVENT_GATEWAY__ID", "site2")
    settings = load_settings(config, {"mms": {"port": 3102}})
    assert settings.mms.port == 3102
    assert settings.mms.host == "10.0.0.1"
    assert settings.gateway.id == "site2"


def test_devices_and_policy_tables(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        '[[devices]]\nid = "bat1"\nclass = "battery"\nw_set = "@Control/ActPow_FSCC1"\n'
        '[[policy]]\nschedule = "@Control/MaxPow_FSCH01"\nlocked = ["SchdPrio"]\nlock_enable = true\n',
    )
    settings = load_settings(config)
    assert settings.devices[0].device_class == "battery"
    assert settings.policy[0].locked == frozenset({"SchdPrio"})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[mms]\nprot = 102\n", "mms.prot"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ('[[devices]]\nid = "a b"\nclass = "battery"\n', "devices.0.id"),
        ("[mms\n", "cannot read configuration"),
    ],
)
def test_invalid_configuration_is_one_clear_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="configuration") as caught:
        load_settings(_toml(tmp_path, text))
    assert fragment in str(caught.value)


def test_toml_is_strict_and_the_environment_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"gateway.toml:2: mms.port: Input should be a valid integer"):
        load_settings(_toml(tmp_path, '[mms]\nport = "102"\n'))
    integral = load_settings(_toml(tmp_path, "[mqtt]\nheartbeat_s = 30\n[mms]\nport = 102\n"))
    assert (integral.mqtt.heartbeat_s, integral.mms.port) == (30.0, 102)  # an integer is a float's value
    monkeypatch.setenv("RELEVENT_MMS__PORT", "10102")
    monkeypatch.setenv("RELEVENT_MMS__TLS", "false")
    assert load_settings(_toml(tmp_path, "[mms]\nport = 102\n")).mms.port == 10102
    with pytest.raises(ConfigError, match=r"gateway.toml:2: mms.port: .* without quotes\)$"):
        load_settings(_toml(tmp_path, '[mms]\nport = "102"\n'))  # the file is wrong, even when overridden


def test_docs_toml_examples_load(tmp_path: Path) -> None:
    docs = [*(REPO / "docs").glob("*.md"), REPO / "README.md"]
    examples = [
        block for doc in docs for block in re.findall(r"```toml\n(.*?)```", doc.read_text(), re.DOTALL)
    ]
    assert examples
    for example in examples:
        load_settings(_toml(tmp_path, example))


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_never_appear_in_repr_or_errors(tmp_path: Path) -> None:
    settings = load_settings(_toml(tmp_path, '[mqtt]\nusername = "gw"\npassword = "hunter2"\n'))
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    with pytest.raises(ConfigError) as caught:
        load_settings(_toml(tmp_path, '[mqtt]\npassword = "hunter2"\nheartbeat_s = -1\n'))
    assert "hunter2" not in str(caught.value)


def _credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    """A systemd credential as the unit's LoadCredential= delivers it."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / name).write_text(text)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))


def test_systemd_credentials_fill_secrets_below_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _credential(tmp_path, monkeypatch, "mqtt__password", "from-credential")
    settings = load_settings(_toml(tmp_path, '[mqtt]\nusername = "gw"\n'))
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "from-credential"
    overridden = load_settings(_toml(tmp_path, '[mqtt]\npassword = "from-file"\n'))
    assert overridden.mqtt.password is not None
    assert overridden.mqtt.password.get_secret_value() == "from-file"


def _text(secret: SecretStr | None) -> str:
    assert secret is not None
    return secret.get_secret_value().strip()  # audit_key strips the credential's newline


def test_the_audit_key_comes_from_a_systemd_credential_or_a_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _credential(tmp_path, monkeypatch, "audit__key", "a key from the credential\n")
    settings = load_settings(_toml(tmp_path, ""))
    assert _text(settings.audit.secret()) == "a key from the credential"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    key_file = tmp_path / "audit.key"
    key_file.write_text("a key from a file\n")
    from_file = load_settings(_toml(tmp_path, f'[audit]\nkey_file = "{key_file}"\n'))
    assert _text(from_file.audit.secret()) == "a key from a file"
    assert load_settings(_toml(tmp_path, "")).audit.secret() is None  # then one is generated at start
    with pytest.raises(ConfigError, match="set key or key_file, not both"):
        load_settings(_toml(tmp_path, f'[audit]\nkey = "inline key text"\nkey_file = "{key_file}"\n'))
