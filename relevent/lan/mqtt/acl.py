"""The broker ACL the project ships.

The gateway user reads and writes its tree; each device (username = device id) writes only its own `meas`,
`state`, `avail` and `ctl/ack` and reads only its own `ctl/#` and the gateway status.
"""

from __future__ import annotations

_DEVICE_WRITES = ("meas", "state", "avail", "ctl/ack")


def acl_template(root: str = "relevent/v1", gateway_user: str = "gw") -> str:
    """A mosquitto `acl_file` for every gateway under `root` (`pattern` lines keyed on `%u`)."""
    root = root.rstrip("/")
    lines = [f"user {gateway_user}", f"topic readwrite {root}/#", ""]
    lines += [f"pattern write {root}/+/dev/%u/{leaf}" for leaf in _DEVICE_WRITES]
    lines += [f"pattern read {root}/+/dev/%u/ctl/#", f"pattern read {root}/+/status"]
    return "\n".join(lines) + "\n"
