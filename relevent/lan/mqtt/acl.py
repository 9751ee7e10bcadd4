"""The broker ACL the project ships.

The gateway user reads and writes its tree and writes Home Assistant's discovery configs; each device
(username = device id) writes only its own `meas`, `state`, `avail` and `ctl/ack` and reads only its own
`ctl/#` and the gateway status; Home Assistant's user reads the discovery configs and the entities' states.
"""

from __future__ import annotations

_DEVICE_WRITES = ("meas", "state", "avail", "ctl/ack")


def acl_template(
    root: str = "relevent/v1",
    gateway_user: str = "gw",
    ha_user: str = "homeassistant",
    ha_prefix: str = "homeassistant",
) -> str:
    """A mosquitto `acl_file` for every gateway under `root` (`pattern` lines keyed on `%u`)."""
    root = root.rstrip("/")
    lines = [f"user {gateway_user}", f"topic readwrite {root}/#", f"topic write {ha_prefix}/#", ""]
    lines += [f"user {ha_user}", f"topic read {ha_prefix}/#", f"topic read {root}/+/status",
              f"topic read {root}/+/controller/#", f"topic read {root}/+/dev/+/health", ""]  # fmt: skip
    lines += [f"pattern write {root}/+/dev/%u/{leaf}" for leaf in _DEVICE_WRITES]
    lines += [f"pattern read {root}/+/dev/%u/ctl/#", f"pattern read {root}/+/status"]
    return "\n".join(lines) + "\n"
