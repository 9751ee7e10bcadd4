"""Frames a station sends that are no OCPP message, or too large: the CallError that answers them."""

from __future__ import annotations

import json
import re

from ocpp.messages import CallError

# The id of a CALL read from the head of a frame too large (or too broken) to parse whole.
_CALL_ID = re.compile(r'^\s*\[\s*2\s*,\s*"([^"]{1,36})"')
UNKNOWN_ID = "-1"  # OCPP-J: the message id of a CallError for a frame whose id cannot be read


def call_id(frame: str) -> str:
    """The CALL's message id, or `UNKNOWN_ID`."""
    found = _CALL_ID.match(frame[:200])
    return found.group(1) if found else UNKNOWN_ID


def frame_error(frame: str | bytes, max_bytes: int, ocpp_version: str) -> str | None:  # noqa: PLR0911 - one answer per kind of bad frame
    """The CallError (JSON) answering `frame`, or None when the frame is for the library to route.

    Oversize frames are answered with FormatViolation (1.6: FormationViolation), text that is no JSON
    array with RpcFrameworkError (1.6 has no such code: FormationViolation), so the station learns what
    was wrong and the connection stays up.
    """
    format_code = "FormationViolation" if ocpp_version == "1.6" else "FormatViolation"
    rpc_code = "FormationViolation" if ocpp_version == "1.6" else "RpcFrameworkError"
    if isinstance(frame, bytes):
        return _error(UNKNOWN_ID, rpc_code, "binary frames carry no OCPP message")
    size = len(frame.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return _error(call_id(frame), format_code, f"frame of {size} bytes exceeds {max_bytes}")
    try:
        message = json.loads(frame)
    except ValueError:
        return _error(call_id(frame), rpc_code, "not JSON")
    if not isinstance(message, list) or len(message) < 3 or message[0] not in (2, 3, 4):
        return _error(call_id(frame), rpc_code, "not an OCPP-J CALL, CALLRESULT or CALLERROR")
    if not isinstance(message[1], str):
        return _error(UNKNOWN_ID, rpc_code, "message id is not a string")
    if message[0] == 2 and (
        len(message) != 4 or not isinstance(message[2], str) or not isinstance(message[3], dict)
    ):
        return _error(message[1], rpc_code, "a CALL is [2, id, action, {payload}]")
    return None


def _error(unique_id: str, code: str, description: str) -> str:
    text: str = CallError(unique_id, code, description, {}).to_json()
    return text
