"""JSON Schemas of every payload, generated from the models.

`python -m relevent.lan.mqtt.schema [DIR]` writes them (default `docs/schemas`).

Outbound payloads are described as the gateway serialises them, inbound ones as it validates them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from relevent.lan.mqtt import compat, payloads

Mode = Literal["validation", "serialization"]

SCHEMAS: Mapping[str, tuple[type[BaseModel], Mode]] = {
    "status": (payloads.GatewayStatus, "serialization"),
    "ctl-set": (payloads.Command, "serialization"),
    "ctl-ack": (payloads.Ack, "validation"),
    "ctl-plan": (payloads.Plan, "serialization"),
    "meas": (payloads.Measurement, "validation"),
    "state": (payloads.DeviceState, "validation"),
    "avail": (payloads.Availability, "validation"),
    "ems-extension-request": (payloads.ExtensionRequestPayload, "validation"),
    "ems-extension-reply": (payloads.ExtensionReply, "serialization"),
    "fledge-south-command": (compat.PivotCommand, "serialization"),
    "fledge-south-schedule": (compat.PivotSchedule, "serialization"),
}


def render() -> dict[str, str]:
    """File name -> JSON text of every schema."""
    return {
        f"{name}.json": json.dumps(model.model_json_schema(mode=mode), indent=2, sort_keys=True) + "\n"
        for name, (model, mode) in SCHEMAS.items()
    }


def write(directory: Path) -> list[Path]:
    """Write every schema into `directory`; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(path)  # noqa: T201 - a command-line tool's output
