"""The gateway's HTTP API as relevent-ctl uses it: its own forecast and its dry run of a request.

Both are the scheduler's answers (`/api/forecast`, `/api/check`), so relevent-ctl shows what the gateway
will do and refuses what it would refuse, without a second copy of the rules.
"""

from __future__ import annotations

import ctypes
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relevent.config import HttpSection, default
from relevent.ctl.client import Scalar
from relevent.ctl.errors import CtlError, UnreachableError, UsageError
from relevent.scheduler.forecast import ForecastPoint

DEFAULT_HTTP_PORT: int = default(HttpSection, "port")  # the gateway's


def default_url(host: str) -> str:
    """The gateway's HTTP API on `host` at the default port."""
    return f"http://[{host}]:{DEFAULT_HTTP_PORT}" if ":" in host else f"http://{host}:{DEFAULT_HTTP_PORT}"


@dataclass(frozen=True)
class CheckStep:
    """One request of a command: a write of `value` to `ref`, or (`operate`) an operate of `ref`."""

    ref: str
    value: Scalar
    operate: bool = False

    def as_json(self) -> dict[str, object]:
        """The step as `/api/check` takes it, with the value as MMS carries it to the gateway."""
        value = self.value
        if isinstance(value, datetime):
            value = round(value.timestamp() * 1000) / 1000  # UtcTime: milliseconds
        elif isinstance(value, float):
            value = ctypes.c_float(value).value  # FLOAT32: 1e39 arrives as infinity
        return {"operate" if self.operate else "write": self.ref, "value": value}


@dataclass(frozen=True)
class CheckRefusal:
    """What the gateway would refuse: step `step` of a request, with its reason in words."""

    step: int
    reason: str
    message: str
    schd_ena_err: int | None


class GatewayApi:
    """Requests to the HTTP API at `url` (`http://host:port`); failures raise `CtlError`s."""

    def __init__(self, url: str, timeout_s: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--http-url {url!r} is not an http:// or https:// address")
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s

    def forecast(self, controller: str, hours: float) -> list[ForecastPoint]:
        """The gateway's forecast of `controller` (`LD/LN`) for the next `hours`."""
        query = urllib.parse.urlencode({"controller": controller, "hours": hours})
        document = self._request(f"/api/forecast?{query}")
        try:
            points = document["points"]
            return [ForecastPoint(p["time"], p["value"], p["source"], p["priority"]) for p in points]
        except (KeyError, TypeError):
            raise self._unexpected(document) from None

    def check(self, steps: list[CheckStep]) -> CheckRefusal | None:
        """The gateway's dry run of `steps` in order: the first it would refuse, or None."""
        document = self._request("/api/check", {"steps": [step.as_json() for step in steps]})
        try:
            refused = document["refused"]
            return None if refused is None else CheckRefusal(
                refused["step"], refused["reason"], refused["message"], refused["schd_ena_err"]
            )
        except (KeyError, TypeError):
            raise self._unexpected(document) from None

    def _unexpected(self, document: object) -> CtlError:
        return CtlError(f"the gateway's HTTP API at {self.url} answered unexpectedly: {str(document)[:200]}")

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator's own gateway, http(s) only
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as reply:  # noqa: S310
                return json.load(reply)
        except ValueError:  # 200, but not JSON: not the gateway's API
            raise self._unexpected("not JSON") from None
        except urllib.error.HTTPError as exc:
            raise CtlError(f"the gateway's HTTP API at {self.url}: {exc.code} {_error_text(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnreachableError(
                f"the gateway's HTTP API at {self.url} does not answer ({reason}); give its address"
                " with --http-url"
            ) from None


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(error)["error"])
    except (ValueError, KeyError, TypeError):
        return error.reason
