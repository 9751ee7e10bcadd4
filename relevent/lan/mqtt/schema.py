"""JSON Schemas of every payload, generated from the models.

`python -m relevent.lan.mqtt.schema [DIR]` writes them (default `docs/schemas`).

Outbound payloads are described as the gateway serialises them, inbound ones as it validates them.
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> None:
    """Write the schemas into the directory named on the command line and list the files."""
    parser = argparse.ArgumentParser(prog="python -m relevent.lan.mqtt.schema", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=Path("docs/schemas"),
                        help="where to write them (default %(default)s)")  # fmt: skip
    for path in write(parser.parse_args(argv).directory):
        print(path)  # noqa: T201 - a command-line tool's output


if __name__ == "__main__":
    main()
