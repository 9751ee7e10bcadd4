"""Who may do what: `[[actors]]`, their `[[policy]]` rights and the `[mms]` security, from the config."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from fnmatch import fnmatchcase

import structlog
from pydantic import SecretStr

from relevent.config import ActorEntry, DeviceEntry, MmsSection, PolicyEntry, Settings
from relevent.errors import ConfigError
from relevent.lan.mqtt.ems_slot import PROTOCOL as EMS
from relevent.lan.mqtt.ems_slot import ems_share
from relevent.refs import full_ref
from relevent.scheduler.intents import DeviceBindings
from relevent.scheduler.policy import Grant, Rights
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.verdicts import ActorSlots, IntentFunction
from relevent.wan.mms import ConnectionLimits
from relevent.wan.mms.security import Credentials, TlsFiles
from relevent.wan.mms.tls_front import LOOPBACK

log = structlog.get_logger(__name__)


def actor_rights(settings: Settings, model: ModelSpec) -> Rights:
    """Every configured actor with its grants; an actor without `[[policy]]` rights may only read."""
    names = {actor.name for actor in settings.actors}
    if len(names) != len(settings.actors):
        raise ConfigError("[[actors]] names must be unique")
    grants: dict[str, list[Grant]] = {name: [] for name in names}
    for entry in (e for e in settings.policy if e.actor is not None):
        if entry.actor not in grants:
            raise ConfigError(f"[[policy]] grants rights to {entry.actor!r}, which is not in [[actors]]")
        grants[entry.actor].append(_grant(entry, model))
    if any(grants.values()) and settings.mms.authentication == "none":
        log.warning("actor rights are not enforced over MMS: [mms] authentication = none identifies nobody")
    return Rights({name: tuple(found) for name, found in grants.items()})


def actor_slots(settings: Settings, model: ModelSpec) -> dict[str, ActorSlots]:
    """The share of the core each `[[actors]]` entry with `band` and `slots` (and the EMS) places intents in.

    A slot must be an ordinary schedule of the model (a reserve keeps the controller fed) owned by one actor
    (the EMS's `[mqtt] ems_slot` counts as an owner): two owners would overwrite each other's intents.
    """
    specs = {spec.ref: spec for spec in model.schedules}
    owners: dict[str, str] = {}
    shares: dict[str, ActorSlots] = {}
    mqtt = settings.mqtt
    if mqtt.ems_request_topic is not None and mqtt.ems_slot is not None:
        ems_slot = full_ref(mqtt.ems_slot, model.ied_name)
        owners[ems_slot] = "[mqtt] ems_slot"
        shares[EMS] = ems_share(ems_slot, mqtt.ems_priority)  # the slot itself is checked by EmsSlot
    for actor in settings.actors:
        if actor.band is None:
            continue
        slots = tuple(full_ref(slot, model.ied_name) for slot in actor.slots)
        for given, slot in zip(actor.slots, slots, strict=True):
            where = f"[[actors]] {actor.name}: slot {given!r}"
            if slot not in specs:
                raise ConfigError(f"{where} is not a schedule of the model")
            if specs[slot].reserve:
                raise ConfigError(f"{where} is a reserve schedule: it keeps its controller fed")
            if slot in owners:
                raise ConfigError(f"{where} is also a slot of {owners[slot]}")
            owners[slot] = actor.name
        shares[actor.name] = ActorSlots(actor.band, slots, actor.hold_s)
    return shares


def device_bindings(devices: tuple[DeviceEntry, ...], model: ModelSpec) -> DeviceBindings:
    """Each `[[devices]]` id with the controller of each function it follows: an intent's target."""
    bindings = {}
    for d in devices:
        fields = {
            IntentFunction.ACT_POW: d.w_set, IntentFunction.MAX_POW: d.w_max_lim, IntentFunction.ON_OFF: d.on
        }  # fmt: skip
        bindings[d.id] = {f: full_ref(ref, model.ied_name) for f, ref in fields.items() if ref is not None}
    return bindings


def _grant(entry: PolicyEntry, model: ModelSpec) -> Grant:
    schedules = _patterns(entry.schedules, [s.ref for s in model.schedules], model.ied_name, entry)
    controllers = _patterns(entry.controllers, [c.ref for c in model.controllers], model.ied_name, entry)
    return Grant(schedules=schedules, controllers=controllers, max_priority=entry.max_priority)


def _patterns(patterns: Iterable[str], refs: list[str], ied: str, entry: PolicyEntry) -> tuple[str, ...]:
    """Full-form globs; one that matches nothing in the model is a typo, hence a config error."""
    found = tuple(full_ref(p, ied) for p in patterns)
    for pattern, full in zip(patterns, found, strict=True):
        if not any(fnmatchcase(ref, full) for ref in refs):
            raise ConfigError(f"[[policy]] of {entry.actor!r}: {pattern!r} matches nothing in the model")
    return found


def mms_host(mms: MmsSection) -> str:
    """Where MMS listens: only on loopback while anyone reaching it would control every schedule anonymously.

    As mosquitto 2 does without a configured listener: an open server (no TLS, no authentication) binds
    loopback and says so at every start, unless `allow_anonymous = true` opens it deliberately (warned too).
    """
    if mms.tls or mms.authentication != "none" or _loopback(mms.host):
        return mms.host
    if mms.allow_anonymous:
        log.warning("mms serves anonymous clients with full control on the network "
                    "([mms] allow_anonymous = true); set tls and authentication", host=mms.host)  # fmt: skip
        return mms.host
    log.warning("mms listens on loopback only: no tls and no authentication; set [mms] tls and "
                "authentication, or allow_anonymous = true to serve anonymous clients on the network",
                host=LOOPBACK, configured=mms.host)  # fmt: skip
    return LOOPBACK


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only localhost is known to be loopback
        return host == "localhost"


def mms_limits(mms: MmsSection, actors: tuple[ActorEntry, ...]) -> ConnectionLimits:
    """Who may hold how many MMS connections; `reserved_connections` only bind with priority actors."""
    priority = frozenset(actor.name for actor in actors if actor.priority)
    if priority and mms.authentication == "none":
        log.warning("[[actors]] priority binds nobody: [mms] authentication = none identifies nobody")
    return ConnectionLimits(max_connections=mms.max_connections, per_peer=mms.max_connections_per_peer,
                            per_actor=mms.max_connections_per_actor, reserved=mms.reserved_connections,
                            priority=priority)  # fmt: skip


def mms_tls(mms: MmsSection) -> TlsFiles | None:
    """The server's TLS files, or None for plain TCP (loudly: nothing protects the association)."""
    if not mms.tls:
        log.warning("mms serves plain TCP without transport security; set [mms] tls = true")
        return None
    if mms.ca_file is None or mms.cert_file is None or mms.key_file is None:
        raise ConfigError("[mms] tls = true needs ca_file, cert_file and key_file")
    return TlsFiles(ca=mms.ca_file, cert=mms.cert_file, key=mms.key_file)


def mms_credentials(mms: MmsSection, actors: tuple[ActorEntry, ...]) -> Credentials | None:
    """What the MMS authenticator accepts, or None when `[mms] authentication = "none"`."""
    if mms.authentication == "none":
        return None
    if mms.authentication == "password":
        passwords = {a.name: secret for a in actors if (secret := a.secret()) is not None}
        _require(passwords, "password or password_file")
        if len({p.get_secret_value() for p in passwords.values()}) != len(passwords):
            # ACSE sends no user name: the password alone names the actor.
            raise ConfigError("[[actors]] passwords must differ: the password alone identifies the actor")
        if not mms.tls:
            log.warning("mms passwords travel in clear text over plain TCP; set [mms] tls = true")
        return Credentials("password", passwords=passwords)
    certificates = {fp: a.name for a in actors if (fp := a.fingerprint()) is not None}
    _require(certificates, "certificate_sha256")
    if len(certificates) != sum(a.certificate_sha256 is not None for a in actors):
        raise ConfigError("[[actors]] certificate_sha256 values must differ")
    return Credentials("certificate", certificates=certificates)


def _require(found: dict[str, SecretStr] | dict[bytes, str], key: str) -> None:
    if not found:
        raise ConfigError(f"[mms] authentication needs at least one [[actors]] entry with {key}")
