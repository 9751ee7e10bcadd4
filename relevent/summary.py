"""What a checked configuration and model amount to: a few lines for a person, the same as JSON for scripts.

Only names, addresses and counts: never a password, and the broker URL without any user part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relevent.app import describe_model
from relevent.config import Settings
from relevent.lan.mqtt import BrokerConfig
from relevent.scl.model import SclDocument


def model_line(doc: SclDocument) -> str:
    """`IED X: 1 logical device, 33 schedules, 3 controllers, 42 logical nodes`."""
    return _model_text(describe_model(doc))


def config_summary(settings: Settings, doc: SclDocument, config_file: Path | None) -> dict[str, Any]:
    """`check-config --json`: what the gateway would serve, where, and to whom."""
    broker = BrokerConfig.from_section(settings.mqtt)
    mms, http = settings.mms, settings.http
    return {
        "config": str(config_file) if config_file else None,
        "gateway": settings.gateway.id,
        "model": describe_model(doc),
        "mms": {"host": mms.host, "port": mms.port, "tls": mms.tls, "authentication": mms.authentication},
        "mqtt": {
            "broker": f"{'mqtts' if broker.tls else 'mqtt'}://{broker.host}:{broker.port}",
            "protocol": settings.mqtt.protocol,
            "root": settings.mqtt.root,
        },
        "devices": [{"id": d.id, "class": d.device_class} for d in settings.devices],
        "actors": [actor.name for actor in settings.actors],
        "policies": len(settings.policy),
        "local_triggers": len(settings.local_triggers),
        "state_dir": str(settings.storage.state_dir),
        "http": f"http://{http.host}:{http.port}/",
    }


def summary_text(summary: dict[str, Any]) -> str:
    """`check-config`'s answer: `configuration ok` and one line per part."""
    mms, mqtt = summary["mms"], summary["mqtt"]
    devices = ", ".join(f"{d['id']} ({d['class']})" for d in summary["devices"])
    lines = {
        "gateway": f"{summary['gateway']}, state in {summary['state_dir']}, status page {summary['http']}",
        "model": f"{_model_text(summary['model'])} ({summary['model']['scl']})",
        "mms": f"{mms['host']}:{mms['port']}, {'TLS' if mms['tls'] else 'plain TCP'}, "
        f"authentication {mms['authentication']}, actors: {', '.join(summary['actors']) or 'none'}",
        "mqtt": f"{mqtt['broker']}, MQTT {mqtt['protocol']}, topics {mqtt['root']}/{summary['gateway']}/",
        "devices": f"{len(summary['devices'])}{': ' + devices if devices else ''}",
        "policy": f"{_count(summary['policies'], '[[policy]] entry', '[[policy]] entries')}, "
        f"{_count(summary['local_triggers'], 'local trigger')}",
    }
    head = f"configuration ok: {summary['config'] or 'no file (defaults, environment, command line)'}"
    return "\n".join([head, *(f"  {part:<8} {text}" for part, text in lines.items())])


def _model_text(model: dict[str, Any]) -> str:
    counts = ", ".join(_count(model[key], name) for key, name in (
        ("ldevices", "logical device"), ("schedules", "schedule"), ("controllers", "controller"),
        ("logical_nodes", "logical node"),
    ))  # fmt: skip
    return f"IED {', '.join(model['ieds'])}: {counts}"


def _count(n: object, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
