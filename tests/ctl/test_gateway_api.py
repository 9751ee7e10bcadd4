"""relevent-ctl's HTTP client against answers that are not the gateway's API: clear errors, no traceback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from relevent.ctl.errors import CtlError, UnreachableError, UsageError
from relevent.ctl.gateway_api import CheckStep, GatewayApi
from relevent.ports import free_port


class _Answers(BaseHTTPRequestHandler):
    """`/json/...` answers `{"unexpected": true}`, anything else an HTML page; `/missing/...` a 404."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _answer(self) -> None:
        missing = self.path.startswith("/missing")
        body = b'{"unexpected": true}' if self.path.startswith("/json") else b"<html>a router</html>"
        self.send_response(404 if missing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(5)


ENABLE = [CheckStep("LD/F_FSCH01.EnaReq", value=True, operate=True)]


def test_an_answer_that_is_not_json_is_a_clear_error(url: str) -> None:
    with pytest.raises(CtlError, match="answered unexpectedly: not JSON"):
        GatewayApi(url, 5).check(ENABLE)


def test_json_of_another_shape_is_a_clear_error(url: str) -> None:
    with pytest.raises(CtlError, match="answered unexpectedly"):
        GatewayApi(f"{url}/json", 5).forecast("LD/F_FSCC1", 1)


def test_an_http_error_is_named(url: str) -> None:
    with pytest.raises(CtlError, match=r"at http://127\.0\.0\.1:\d+/missing: 404"):
        GatewayApi(f"{url}/missing", 5).check(ENABLE)


def test_nobody_listening_is_unreachable_and_a_bad_address_is_usage() -> None:
    with pytest.raises(UnreachableError, match="does not answer"):
        GatewayApi(f"http://127.0.0.1:{free_port()}", 5).check(ENABLE)
    with pytest.raises(UsageError, match="not an http"):
        GatewayApi("127.0.0.1:8610", 5)
