"""HEDERA over HTTPS: the token, the headers, bounded retries with jitter, the paged list, Sunset warnings.

Every call has a connect and a total timeout and a deadline (the decision timeout or the directive's window
end) that bounds its retries, so nothing waits on the network beyond what the caller can afford. GET,
DELETE and the list are retried on network errors, 429 and 5xx (honouring `Retry-After`); a POST only when
it surely did not reach HEDERA (a refused connection, 429, 503): after a timeout or a reset it raises
`PostUncertainError` and the caller reconciles against the list before it ever posts again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import structlog
from pydantic import SecretStr

from relevent import __version__
from relevent.errors import ReleventError
from relevent.wan.hedera.config import HederaSection
from relevent.wan.hedera.metrics import HederaMetrics

log = structlog.get_logger(__name__)

USER_AGENT = f"relevent-gw/{__version__}"
Alarm = Callable[[str, str], None]  # what (token, sunset, media type), detail: for the audit trail
RETRIED = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED = frozenset({429, 503})  # a POST answered so surely was not stored
BACKOFF_BASE_S = 1.0
PAGE_SIZE = 10  # HEDERA's largest page


class HederaError(ReleventError):
    """A call to HEDERA that did not succeed."""


class HederaUnavailableError(HederaError):
    """HEDERA (or its token endpoint) could not be reached in time: counts towards lost contact.

    `refused`: the request surely did not reach the server (the connection was refused, or never tried).
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class HederaAuthError(HederaError):
    """The credentials are refused (`invalid_client`, a second 401): an alarm, no tight retries."""


class PostUncertainError(HederaError):
    """A POST may or may not have been stored (timeout, reset): reconcile before posting again."""


class HederaRefusedError(HederaError):
    """HEDERA answered a client error (400, 403, 404, 406, ...) that no retry changes."""

    def __init__(self, status: int, body: Any) -> None:
        issues = body.get("issues") if isinstance(body, dict) else None
        titles = (
            [str(i.get("title")) for i in issues if isinstance(i, dict)] if isinstance(issues, list) else []
        )
        request_id = body.get("requestId") if isinstance(body, dict) else None
        super().__init__(f"HEDERA answered {status}" + (f": {'; '.join(titles)}" if titles else ""))
        self.status = status
        self.body = body
        self.request_id = request_id if isinstance(request_id, str) else None


@dataclass(frozen=True)
class Answer:
    """A successful answer: status and JSON body (None for 204 or an empty body)."""

    status: int
    body: Any


class TokenProvider:
    """OAuth2 client credentials, cached until shortly before expiry; concurrent callers share one refresh."""

    def __init__(
        self,
        section: HederaSection,
        secret: SecretStr,
        session: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], float],
        metrics: HederaMetrics,
    ) -> None:
        self._section = section
        self._secret = secret
        self._session = session
        self._clock = clock
        self._metrics = metrics
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self._next_try = 0.0  # after a refused secret: no faster than max_backoff_s
        self.failed: str | None = None  # the last refusal (`invalid_client`, ...), for readiness
        self.alarm: Alarm = _no_alarm

    async def token(self, deadline: float) -> str:
        """A valid token: the cached one, or one fresh refresh shared by every caller waiting for it."""
        async with self._lock:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            return await self._refresh(deadline)

    def invalidate(self, token: str) -> None:
        """`token` was refused (401): the next caller fetches a new one."""
        if self._token == token:
            self._token = None

    async def _refresh(self, deadline: float) -> str:
        section = self._section
        if self._clock() < self._next_try:
            raise HederaAuthError(f"token endpoint refused the credentials: {self.failed}")
        form = {"client_id": section.client_id, "client_secret": self._secret.get_secret_value(),
                "grant_type": "client_credentials", "scope": section.scope}  # fmt: skip
        attempt = 0
        while True:
            try:
                status, body = await _exchange(
                    self._session(), section.token_url, deadline, self._clock, form
                )
            except HederaUnavailableError:
                status, body = 0, None
            if 200 <= status < 300 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
                return self._keep(body)
            error = body.get("error") if isinstance(body, dict) else None
            if status in (400, 401) and error is not None:
                self._metrics.token_refresh.labels(result="refused").inc()
                self.failed = str(error)
                self._next_try = self._clock() + section.max_backoff_s
                log.error("HEDERA token refused", error=error, status=status)
                self.alarm("token", f"{status} {error}")
                raise HederaAuthError(f"token endpoint refused the credentials: {error}")
            self._metrics.token_refresh.labels(result="failed").inc()
            attempt += 1
            await _backoff(attempt, section.max_backoff_s, None, deadline, self._clock, what="token")

    def _keep(self, body: Mapping[str, Any]) -> str:
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 3600))
        margin = min(self._section.token_refresh_margin_s, 0.2 * lifetime)
        self._token, self._refresh_at = token, self._clock() + lifetime - margin
        self.failed = None
        self._metrics.token_refresh.labels(result="ok").inc()
        log.info("HEDERA token fetched", expires_in_s=lifetime,
                 token_sha256=hashlib.sha256(token.encode()).hexdigest()[:8])  # fmt: skip
        return token


class HederaClient:
    """The schedule API's calls, each bounded by a deadline on the injected clock."""

    def __init__(
        self,
        section: HederaSection,
        secret: SecretStr,
        clock: Callable[[], float],
        metrics: HederaMetrics,
    ) -> None:
        self._section = section
        self._clock = clock
        self._metrics = metrics
        self._session_: aiohttp.ClientSession | None = None
        # Made now, at start-up: loading the CA store takes the loop tens of milliseconds.
        self._ssl = ssl.create_default_context()
        if section.ca_file is not None:  # an extra CA, beside the system's
            self._ssl.load_verify_locations(cafile=section.ca_file)
        self.tokens = TokenProvider(section, secret, self._session, clock, metrics)
        self.alarm: Alarm = _no_alarm
        self._sunsets_seen: set[str] = set()
        self.sunset: str | None = None
        self.last_contact: float | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._session_ is None or self._session_.closed:
            timeout = aiohttp.ClientTimeout(total=self._section.total_timeout_s,
                                            sock_connect=self._section.connect_timeout_s)  # fmt: skip
            self._session_ = aiohttp.ClientSession(
                timeout=timeout, connector=aiohttp.TCPConnector(ssl=self._ssl)
            )
        return self._session_

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session_ is not None:
            await self._session_.close()

    async def post_schedule(self, body: Mapping[str, Any], deadline: float) -> Answer:
        """POST /schedule; retried only when it surely was not stored, else `PostUncertainError`."""
        return await self._call("POST", "/schedule", deadline, body=body, endpoint="post")

    async def get_schedule(self, schedule_id: str, deadline: float) -> Answer:
        """GET /schedule/{id}."""
        return await self._call("GET", f"/schedule/{schedule_id}", deadline, endpoint="get")

    async def delete_schedule(self, schedule_id: str, deadline: float) -> None:
        """DELETE /schedule/{id}; an unknown schedule counts as deleted."""
        try:
            await self._call("DELETE", f"/schedule/{schedule_id}", deadline, endpoint="delete")
        except HederaRefusedError as exc:
            if exc.status != 404:
                raise

    async def list_schedules(self, states: tuple[str, ...], deadline: float) -> list[tuple[str, str]]:
        """(id, state) of every listed schedule in `states`, all pages walked."""
        found: list[tuple[str, str]] = []
        page = 0
        while True:
            query = [("pageSize", str(PAGE_SIZE)), ("page", str(page)), *(("status", s) for s in states)]
            answer = await self._call("GET", "/schedules", deadline, query=query, endpoint="list")
            body = answer.body if isinstance(answer.body, dict) else {}
            rows = [
                r
                for r in body.get("schedules") or []
                if isinstance(r, dict) and isinstance(r.get("mRID"), str)
            ]
            found += [(str(r["mRID"]), str(r.get("status"))) for r in rows]
            total = (body.get("page") or {}).get("totalElements")
            if len(rows) < PAGE_SIZE or (isinstance(total, int) and len(found) >= total):
                return found
            page += 1

    async def _call(  # noqa: PLR0913 - one HTTP call's parts
        self,
        method: str,
        path: str,
        deadline: float,
        *,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> Answer:
        """One API call: a new token once on 401, retries within `deadline` as the module says."""
        attempt = 0
        renewed = False
        while True:
            token = await self.tokens.token(deadline)
            try:
                status, answer, retry_after = await self._once(
                    method, path, token, deadline, body, query, endpoint
                )
            except HederaUnavailableError as exc:
                if method == "POST" and not exc.refused:
                    raise PostUncertainError(str(exc)) from None
                status, answer, retry_after = 0, None, None
            if status == 401 and not renewed:  # an expired token: one new token, one retry
                self.tokens.invalidate(token)
                renewed = True
                continue
            if status == 0 or (status in RETRIED and (method != "POST" or status in NOT_PROCESSED)):
                attempt += 1
                await _backoff(attempt, self._section.max_backoff_s, retry_after, deadline, self._clock,
                               what=endpoint)  # fmt: skip
                continue
            if 200 <= status < 300:
                self.last_contact = self._clock()
                self._metrics.last_contact.set(self.last_contact)
                return Answer(status, answer)
            if status == 406:
                self.alarm("media type", f"{self._section.media_type} not accepted: {answer}")
            raise _failure(method, path, status, answer, self._section.media_type)

    async def _once(  # noqa: PLR0913, PLR0917 - one request's parts
        self,
        method: str,
        path: str,
        token: str,
        deadline: float,
        body: Mapping[str, Any] | None,
        query: list[tuple[str, str]] | None,
        endpoint: str,
    ) -> tuple[int, Any, float | None]:
        """(status, JSON body, Retry-After) of one request, counted and timed; Sunset noted."""
        media_type = self._section.media_type
        headers = {"Accept": media_type, "Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = media_type
        started = time.monotonic()
        try:
            status, answer, retry_after, sunset = await _request(
                self._session(), method, self._section.base_url.rstrip("/") + path, deadline, self._clock,
                headers=headers, data=None if body is None else json.dumps(body), params=query,
            )  # fmt: skip
        except HederaUnavailableError:
            self._metrics.http_requests.labels(endpoint=endpoint, status="error").inc()
            raise
        self._metrics.http_requests.labels(endpoint=endpoint, status=str(status)).inc()
        self._metrics.http_duration.labels(endpoint=endpoint).observe(time.monotonic() - started)
        if sunset is not None:
            self._seen_sunset(sunset)
        return status, answer, retry_after

    def _seen_sunset(self, value: str) -> None:
        self.sunset = value
        if value in self._sunsets_seen:
            return
        self._sunsets_seen.add(value)
        self.alarm("sunset", value)
        log.warning("HEDERA announces the end of this API version", sunset=value,
                    media_type=self._section.media_type)  # fmt: skip
        try:
            self._metrics.sunset.set(parsedate_to_datetime(value).timestamp())
        except (TypeError, ValueError):
            log.warning("unreadable Sunset header", sunset=value)


async def _request(  # noqa: PLR0913 - one request's parts
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    deadline: float,
    clock: Callable[[], float],
    *,
    headers: Mapping[str, str],
    data: str | None,
    params: list[tuple[str, str]] | None,
) -> tuple[int, Any, float | None, str | None]:
    """(status, JSON body or None, Retry-After seconds, Sunset) of one request bounded by `deadline`."""
    remaining = deadline - clock()
    if remaining <= 0:
        raise HederaUnavailableError(f"{method} {url}: deadline passed", refused=True)
    try:
        async with asyncio.timeout(remaining):
            async with session.request(method, url, headers=headers, data=data, params=params) as response:
                text = await response.text()
                retry_after = _seconds(response.headers.get("Retry-After"))
                sunset = response.headers.get("Sunset")
                status = response.status
    except aiohttp.ClientConnectorError as exc:
        raise HederaUnavailableError(f"{method} {url}: {exc}", refused=True) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise HederaUnavailableError(f"{method} {url}: {type(exc).__name__} {exc}", refused=False) from None
    return status, _parse(text), retry_after, sunset


async def _exchange(
    session: aiohttp.ClientSession,
    url: str,
    deadline: float,
    clock: Callable[[], float],
    form: Mapping[str, str],
) -> tuple[int, Any]:
    """(status, JSON body) of a form request (the token endpoint), bounded by `deadline`."""
    remaining = deadline - clock()
    if remaining <= 0:
        raise HederaUnavailableError(f"{url}: deadline passed", refused=True)
    try:
        async with asyncio.timeout(remaining):
            async with session.post(url, data=dict(form), headers={"User-Agent": USER_AGENT}) as response:
                return response.status, _parse(await response.text())
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise HederaUnavailableError(f"{url}: {type(exc).__name__}", refused=False) from None


async def _backoff(  # noqa: PLR0913 - the wait's inputs
    attempt: int,
    cap: float,
    retry_after: float | None,
    deadline: float,
    clock: Callable[[], float],
    *,
    what: str,
) -> None:
    """Exponential backoff, full jitter, at least `Retry-After`; `HederaUnavailableError` after `deadline`."""
    wait = random.uniform(0, min(cap, BACKOFF_BASE_S * 2 ** (attempt - 1)))  # noqa: S311 - jitter only
    if retry_after is not None:
        wait = max(wait, retry_after)
    left = deadline - clock()
    if left <= 0:
        raise HederaUnavailableError(f"{what}: no success before the deadline", refused=False)
    await asyncio.sleep(min(wait, left))  # a last try at the deadline: lost contact is declared no earlier


def _no_alarm(what: str, detail: str) -> None:
    """No audit trail: the log has it."""


def _failure(method: str, path: str, status: int, body: Any, media_type: str) -> HederaError:
    """The error of an answer that no retry changes."""
    if status == 401:
        return HederaAuthError(f"{method} {path}: 401 with a fresh token")
    if status >= 500:
        return PostUncertainError(f"{method} {path}: {status}")
    if status == 406:
        log.error("HEDERA does not accept the media type", media_type=media_type, body=body)
    return HederaRefusedError(status, body)


def _seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (delay-seconds only; an HTTP-date is ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _parse(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
