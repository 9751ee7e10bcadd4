"""`[mms]` security, `[[actors]]` and `[[policy]]` rights: what the configuration refuses, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from relevent.access import actor_rights, actor_slots, mms_credentials, mms_limits
from relevent.config import Settings, load_settings
from relevent.errors import ConfigError
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.verdicts import ActorSlots
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load

TWO_ACTORS_ONE_PASSWORD = (
    '[mms]\nauthentication = "password"\n'
    '[[actors]]\nname = "a"\npassword = "same"\n[[actors]]\nname = "b"\npassword = "same"\n'
)

DSO_SLOTS = (
    '[[actors]]\nname = "dso"\nband = [60, 69]\n'
    'slots = ["@Control/MaxPow_FSCH03", "@Control/MaxPow_FSCH04"]\n'
)


def _settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "gw.toml"
    path.write_text(text.format(file=tmp_path / "gw.toml"))
    return load_settings(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[mms]\ntls = true\n", "tls = true needs ca_file, cert_file, key_file"),
        ('[mms]\nca_file = "{file}"\n', "ca_file set but tls = false"),
        ('[mms]\nauthentication = "certificate"\n', "needs tls = true"),
        ('[mms]\ncert_file = "/nonexistent.crt"\ntls = true\n', "cert_file"),
        ('[[policy]]\nschedule = "@Control/ActPow_FSCH01"\nactor = "dso"\n', "either a schedule"),
        ('[[policy]]\nactor = "dso"\nlocked = ["SchdPrio"]\n', "belong to a schedule's entry"),
        ('[[policy]]\nschedule = "@Control/ActPow_FSCH01"\nmax_priority = 5\n', "belong to an actor's entry"),
        ('[[actors]]\nname = "dso"\npassword = "a"\npassword_file = "{file}"\n', "not both"),
        ('[[actors]]\nname = "dso"\ncertificate_sha256 = "AB:CD"\n', "certificate_sha256"),
        ("[mms]\nmax_connections = 6\n", "max_connections"),  # libiec61850 as shipped serves 5
        ("[mms]\nmax_connections = 3\nreserved_connections = 2\n", "at most max_connections - 2 = 1"),
        ("[mms]\nauth_failure_delay_s = 10\nauth_failure_max_delay_s = 5\n", "at least auth_failure_delay_s"),
        ('[[actors]]\nname = "dso"\nband = [60, 2147483648]\nslots = ["@Control/MaxPow_FSCH03"]\n',
         "less than or equal to 2147483647"),
        ('[[actors]]\nname = "dso"\nband = [-2147483649, 0]\nslots = ["@Control/MaxPow_FSCH03"]\n',
         "greater than or equal to -2147483648"),
        ('[[actors]]\nname = "dso"\nband = [69, 60]\nslots = ["@Control/MaxPow_FSCH03"]\n',
         "[lowest, highest]"),
        ('[[actors]]\nname = "dso"\nband = [60, 69]\n', "band and slots go together"),
        ('[[actors]]\nname = "dso"\nslots = ["@Control/MaxPow_FSCH03"]\n', "band and slots go together"),
    ],
)  # fmt: skip
def test_invalid_security_settings_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as raised:
        _settings(tmp_path, text)
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[[policy]]\nactor = "ghost"\nschedules = ["@Control/*"]\n', "'ghost', which is not in [[actors]]"),
        ('[[actors]]\nname = "dso"\n[[policy]]\nactor = "dso"\nschedules = ["@Control/Nope*"]\n',
         "matches nothing"),
        ('[[actors]]\nname = "a"\n[[actors]]\nname = "a"\n', "names must be unique"),
        (DSO_SLOTS + '[[actors]]\nname = "cpo"\nband = [20, 39]\nslots = ["@Control/MaxPow_FSCH04"]\n',
         "'@Control/MaxPow_FSCH04' is also a slot of dso"),
        (DSO_SLOTS + '[mqtt]\nems_request_topic = "ems/req"\nems_slot = "@Control/MaxPow_FSCH03"\n',
         "is also a slot of [mqtt] ems_slot"),
        ('[[actors]]\nname = "dso"\nband = [60, 69]\nslots = ["@Control/MaxPow_Res_FSCH01"]\n', "a reserve"),
        ('[[actors]]\nname = "dso"\nband = [60, 69]\nslots = ["@Control/Nope_FSCH01"]\n', "not a schedule"),
    ],
)  # fmt: skip
def test_rights_and_slots_that_name_nothing_or_clash_are_refused(
    tmp_path: Path, text: str, fragment: str
) -> None:
    settings = _settings(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        _shares(settings)
    assert fragment in str(raised.value)


def _shares(settings: Settings) -> object:
    """The actors' rights, then their slots (a slot owned twice, a reserve, no schedule)."""
    model = model_spec(load(DEFAULT_MODEL))
    actor_rights(settings, model)
    return actor_slots(settings, model)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[mms]\nauthentication = "password"\n', "at least one [[actors]] entry with password"),
        (TWO_ACTORS_ONE_PASSWORD, "passwords must differ"),
    ],
)  # fmt: skip
def test_credentials_that_cannot_name_an_actor_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    settings = _settings(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        mms_credentials(settings.mms, settings.actors)
    assert fragment in str(raised.value)
    assert "same" not in str(raised.value)


def test_a_password_file_is_read_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "dso.pw"
    secret.write_text("from-a-file\n")
    settings = load_settings(overrides={"actors": [{"name": "dso", "password_file": secret}]})
    mms = settings.mms.model_copy(update={"authentication": "password"})
    credentials = mms_credentials(mms, settings.actors)
    assert credentials is not None
    assert credentials.actor_for_password(b"from-a-file") == "dso"
    assert credentials.actor_for_password(b"from-a-file\n") is None


def test_connection_limits_keep_slots_for_the_priority_actors(tmp_path: Path) -> None:
    actors = '[[actors]]\nname = "dso"\npriority = true\n[[actors]]\nname = "market"\n'
    settings = _settings(tmp_path, "[mms]\nmax_connections_per_peer = 3\n" + actors)
    limits = mms_limits(settings.mms, settings.actors)
    assert (limits.max_connections, limits.per_peer, limits.per_actor) == (5, 3, 2)
    assert limits.priority == frozenset({"dso"})
    assert (limits.associable, limits.for_others) == (4, 3)


def test_an_actors_share_is_its_band_and_its_slots_in_order_the_ems_one_slot(tmp_path: Path) -> None:
    ems = '[mqtt]\nems_request_topic = "ems/req"\nems_slot = "@Control/ActPow_FSCH05"\nems_priority = 70\n'
    settings = _settings(tmp_path, ems + DSO_SLOTS + 'hold_s = 3600\n[[actors]]\nname = "scada"\n')
    shares = actor_slots(settings, model_spec(load(DEFAULT_MODEL)))
    slots = ("DER_Scheduler_Control/MaxPow_FSCH03", "DER_Scheduler_Control/MaxPow_FSCH04")
    assert shares == {
        "dso": ActorSlots((60, 69), slots, 3600.0),
        "mqtt-ems": ActorSlots((70, 70), ("DER_Scheduler_Control/ActPow_FSCH05",)),
    }
