"""The EMS's capacity requests (ReLevENT's `ExtensionRequest`, strict or relaxed JSON) and the replies.

A request is parsed and checked here, before any HEDERA call: a refusal names its reason and nothing else
happens. `python -m relevent.wan.hedera.ems [DIR]` writes the JSON schemas of both (docs/schemas).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relevent.wan.hedera.codec import GrantedLimits

RESOLUTIONS = {"FIVE_MINUTES": 300, "FIFTEEN_MINUTES": 900}
DEFAULT_START_S = 180  # ReLevENT: a request without a start begins in 3 minutes
MAX_DURATION_S = 86400
MAX_AHEAD_S = 2 * 86400
# A bare identifier in ReLevENT's unquoted form (`{direction:IMPORT}`): a key or a string value.
_BARE = re.compile(r"(?<=[{,\[:])\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(?=[:,}\]])")


class EmsInstant(BaseModel):
    """ReLevENT's `java.time.Instant` as Gson writes it."""

    model_config = ConfigDict(extra="ignore")

    seconds: int
    nanos: int = Field(default=0, ge=0, lt=1_000_000_000)


class EmsRequestMessage(BaseModel):
    """A capacity request of the EMS (ReLevENT `ExtensionRequest`; `id` is ours and optional)."""

    model_config = ConfigDict(extra="ignore", title="HEDERA capacity request")

    id: str | None = Field(default=None, max_length=128)
    direction: Literal["IMPORT", "EXPORT"]
    start: EmsInstant | None = None  # absent: now + 3 minutes
    resolution: Literal["FIVE_MINUTES", "FIFTEEN_MINUTES"]
    values: list[float] = Field(min_length=1)  # W per period, the total allowed (firm and non-firm)
    skipHedera: bool = False  # noqa: N815 - ReLevENT's field name


class EmsGranted(BaseModel):
    """What HEDERA granted, in W per period (null: none given, the firm capacity applies)."""

    start: EmsInstant
    resolution: Literal["FIVE_MINUTES", "FIFTEEN_MINUTES"]
    values: list[float | None]
    reasons: list[str | None]


class EmsApplied(BaseModel):
    """Where the grant runs: the schedules and their priority."""

    slots: list[str]
    priority: int


class EmsReplyMessage(BaseModel):
    """One reply per state change of a request (on the reply topic, or the MQTT 5 response topic)."""

    model_config = ConfigDict(title="HEDERA capacity request reply")

    id: str | None
    state: Literal[
        "received", "rejected", "submitted", "pending", "accepted", "declined", "timeout", "failed",
        "superseded", "cancelled", "fallback", "restored",
    ]  # fmt: skip
    ts: float
    direction: Literal["IMPORT", "EXPORT"] | None
    hedera_schedule: str | None = None
    message: str | None = None
    granted: EmsGranted | None = None
    applied: EmsApplied | None = None


@dataclass(frozen=True)
class EmsRequest:
    """A parsed request with where to answer it."""

    id: str | None
    direction: str
    start: float
    resolution_s: int
    values: tuple[float, ...]
    skip_hedera: bool
    response_topic: str | None = None
    correlation: bytes | None = None

    @property
    def end(self) -> float:
        """When its last period ends."""
        return self.start + self.resolution_s * len(self.values)


class EmsInputError(ValueError):
    """A request that cannot be read; the message says why, without echoing the payload."""


def parse_request(payload: bytes, now: float, *, relaxed: bool) -> EmsRequest:
    """The request in `payload`: strict JSON first, then (if `relaxed`) ReLevENT's unquoted form."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise EmsInputError("the payload is no UTF-8 text") from None
    data: Any
    try:
        data = json.loads(text)
    except ValueError:
        if not relaxed:
            raise EmsInputError("the payload is no JSON") from None
        try:
            data = json.loads(_BARE.sub(r'"\1"', text))
        except ValueError:
            raise EmsInputError("the payload is neither JSON nor ReLevENT's unquoted form") from None
    try:
        message = EmsRequestMessage.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        raise EmsInputError(f"{where}: {first['msg']}") from None
    # Whole seconds: a schedule's start time is one (HEDERA's own examples are minutes).
    start = math.floor(now) + DEFAULT_START_S if message.start is None else message.start.seconds
    return EmsRequest(message.id, message.direction, start, RESOLUTIONS[message.resolution],
                      tuple(message.values), message.skipHedera)  # fmt: skip


def request_problem(  # noqa: PLR0913 - the checks' bounds
    request: EmsRequest,
    now: float,
    *,
    configured: bool,
    max_w: float,
    capacity: int,
    lead_s: float,
    align: bool,
) -> str | None:
    """Why the request cannot go to HEDERA (None: it can)."""
    values = request.values
    checks = [
        (not configured, f"direction {request.direction} is not configured"),
        (any(not math.isfinite(v) or v < 0 for v in values), "values must be finite and not negative"),
        (any(v > max_w for v in values), f"a value exceeds max_w = {max_w} W"),
        (request.end - request.start > MAX_DURATION_S, "a request covers at most 24 h"),
        (
            request.start < now + lead_s,
            "the start is in the past" if lead_s == 0 else f"starts within {lead_s} s",
        ),
        (request.start > now + MAX_AHEAD_S, "the start is more than 48 h ahead"),
        (len(values) > capacity, f"{len(values)} values, the direction's slots hold {capacity}"),
        (align and request.start % request.resolution_s != 0, "the start is not aligned to the resolution"),
    ]
    return next((problem for bad, problem in checks if bad), None)


def reply(  # noqa: PLR0913 - the fields of a reply
    request_id: str | None,
    state: str,
    ts: float,
    direction: str | None,
    *,
    schedule: str | None = None,
    message: str | None = None,
    grant: GrantedLimits | None = None,
    applied: tuple[tuple[str, ...], int] | None = None,
) -> dict[str, Any]:
    """A reply's JSON (see `EmsReplyMessage`)."""
    granted = None
    if grant is not None:
        name = next(n for n, s in RESOLUTIONS.items() if s == grant.resolution_s)
        granted = {"start": _instant(grant.start), "resolution": name, "values": list(grant.values),
                   "reasons": list(grant.reasons)}  # fmt: skip
    return {
        "id": request_id, "state": state, "ts": ts, "direction": direction, "hedera_schedule": schedule,
        "message": message, "granted": granted,
        "applied": None if applied is None else {"slots": list(applied[0]), "priority": applied[1]},
    }  # fmt: skip


def _instant(timestamp: float) -> dict[str, int]:
    seconds = math.floor(timestamp)
    return {"seconds": seconds, "nanos": round((timestamp - seconds) * 1e9)}


def schemas() -> Mapping[str, dict[str, Any]]:
    """The JSON schemas of the request and of the reply, by file name."""
    return {
        "hedera-request.json": EmsRequestMessage.model_json_schema(),
        "hedera-reply.json": EmsReplyMessage.model_json_schema(),
    }


def render() -> dict[str, str]:
    """The schema files' text, as committed in docs/schemas."""
    return {name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in schemas().items()}


def main() -> None:
    """Write the schemas into the directory named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=Path("docs/schemas"))
    directory = parser.parse_args().directory
    for name, text in render().items():
        (directory / name).write_text(text)
        print(directory / name)  # noqa: T201 - the tool's output


if __name__ == "__main__":
    main()
