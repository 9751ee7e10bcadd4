"""`relevent-ctl`: status, write, enable, disable, forecast and watch schedules of a relevent gateway.

Schedules are read and written over MMS. The forecast, and the check of a whole `write` before its first
request, come from the gateway's HTTP API (`--http-url`, else `$RELEVENT_CTL_HTTP_URL`, else http://HOST:8610).

Exit codes: 0 ok, 1 a request was refused by the server, 2 usage (command line or schedule file),
3 the gateway cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relevent.config import MmsSection, default
from relevent.ctl import ops
from relevent.ctl.client import ClientSecurity, MmsClient
from relevent.ctl.errors import EX_OK, CtlError, RefusedError, UnreachableError, UsageError
from relevent.ctl.gateway_api import GatewayApi, default_url
from relevent.ctl.model import RemoteModel, browse
from relevent.ctl.render import (
    forecast_json,
    forecast_text,
    report_json,
    report_lines,
    status_json,
    status_text,
)
from relevent.ctl.reports import Report, ReportSubscription
from relevent.ctl.schedule_input import ScheduleInput, load_file, parse_start, parse_values

PASSWORD_ENV = "RELEVENT_CTL_PASSWORD"  # noqa: S105 - the variable's name, not a password
HTTP_URL_ENV = "RELEVENT_CTL_HTTP_URL"
_IDLE_CHECK_S = 1.0  # how often `watch` checks its connection while no report arrives


def _common() -> argparse.ArgumentParser:
    """Options valid before and after the verb (SUPPRESS keeps a later default from hiding an earlier one)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--host", help="gateway address (default 127.0.0.1)")
    common.add_argument("--port", type=int, help="MMS port (default 102)")
    common.add_argument("--timeout", type=float, help="seconds to wait for each answer (default 3)")
    common.add_argument(
        "--http-url",
        help=f"the gateway's HTTP API for forecast and write (default ${HTTP_URL_ENV}, else http://HOST:8610)",
    )
    common.add_argument("--json", action="store_true", help="JSON output for scripts")
    common.add_argument("--ca", type=Path, help="CA of the gateway's certificate: connect over TLS")
    common.add_argument("--cert", type=Path, help="this client's certificate (TLS)")
    common.add_argument("--key", type=Path, help="this client's private key (TLS)")
    common.add_argument(
        "--password-file", type=Path, help=f"ACSE password in a file, or ${PASSWORD_ENV} (never an argument)"
    )
    return common


def _security(args: argparse.Namespace) -> ClientSecurity | None:
    """TLS files and the ACSE password from the options and the environment; None for plain MMS."""
    password_file: Path | None = getattr(args, "password_file", None)
    try:
        password = password_file.read_text().strip() if password_file else os.environ.get(PASSWORD_ENV)
    except OSError as exc:
        raise UsageError(f"cannot read the password file {password_file}: {exc.strerror}") from None
    security = ClientSecurity(
        getattr(args, "ca", None), getattr(args, "cert", None), getattr(args, "key", None), password or None
    )
    return None if security == ClientSecurity() else security


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="relevent-ctl",
        parents=[common],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    verbs.add_parser("status", parents=[common], help="every controller and schedule")
    write = verbs.add_parser("write", parents=[common], help="write a schedule's parameters")
    write.add_argument("schedule", help="ActPow_FSCH01, @Control/ActPow_FSCH01 or LD/ActPow_FSCH01")
    write.add_argument("--values", type=parse_values, help="comma-separated values, e.g. 100,200,150")
    write.add_argument("--file", type=Path, help="a .json or .csv schedule (options given here win)")
    write.add_argument("--interval", type=int, help="SchdIntv: seconds per entry")
    write.add_argument("--prio", type=int, help="SchdPrio: larger wins")
    write.add_argument("--start", help="StrTm01: ISO 8601 with offset or Z, 'now', or +30s/+5m/+2h")
    write.add_argument("--enable", action="store_true", help="enable the schedule afterwards")
    for verb, text in (("enable", "operate EnaReq"), ("disable", "operate DsaReq")):
        verbs.add_parser(verb, parents=[common], help=text).add_argument("schedule")
    fc = verbs.add_parser("forecast", parents=[common], help="a controller's coming output")
    fc.add_argument("controller", help="ActPow_FSCC1, @Control/ActPow_FSCC1 or LD/ActPow_FSCC1")
    fc.add_argument("--hours", type=float, default=24.0, help="how far ahead (default 24)")
    watch = verbs.add_parser("watch", parents=[common], help="print reports as they arrive, until Ctrl-C")
    watch.add_argument("--count", type=int, help="stop after this many reports")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `relevent-ctl`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    as_json: bool = getattr(args, "json", False)
    try:
        given = _schedule_input(args) if args.verb == "write" else None
        host = getattr(args, "host", "127.0.0.1")
        url = getattr(args, "http_url", None) or os.environ.get(HTTP_URL_ENV) or default_url(host)
        api = GatewayApi(url, _timeout_ms(args) / 1000)
        port = getattr(args, "port", default(MmsSection, "port"))
        with MmsClient(host, port, _timeout_ms(args), _security(args)) as client:
            return _COMMANDS[args.verb](RemoteGateway(client, api, browse(client)), args, given, as_json)
    except CtlError as exc:
        _error(exc, as_json)
        return exc.exit_code
    except KeyboardInterrupt:
        return EX_OK  # the way to end `watch`


def _timeout_ms(args: argparse.Namespace) -> int:
    timeout = getattr(args, "timeout", 3.0)
    if timeout <= 0:
        raise SystemExit("relevent-ctl: error: --timeout must be positive")
    return round(timeout * 1000)


def _schedule_input(args: argparse.Namespace) -> ScheduleInput:
    now = datetime.now(UTC)
    given = ScheduleInput(
        values=args.values,
        interval=args.interval,
        prio=args.prio,
        start=parse_start(args.start, now) if args.start is not None else None,
        enable=args.enable,
    )
    if args.file is not None:
        given = given.over(load_file(args.file, now))
    if given == ScheduleInput():
        raise UsageError("write needs --values, --file, --interval, --prio, --start or --enable")
    return given


def _error(exc: CtlError, as_json: bool) -> None:
    sys.stderr.write(f"relevent-ctl: error: {exc}\n")
    if as_json:
        document: dict[str, Any] = {
            "error": type(exc).__name__,
            "message": str(exc),
            "exit_code": exc.exit_code,
        }
        if isinstance(exc, RefusedError):
            refusal = exc.refusal
            document.update(
                ref=refusal.ref,
                mms_error=refusal.error.name if refusal.error else None,
                add_cause=refusal.add_cause.name if refusal.add_cause else None,
                schd_ena_err=refusal.schd_ena_err,
                reason=refusal.reason,
                because=refusal.because,
                written=None if refusal.written is None else list(refusal.written),
                not_written=list(refusal.not_written),
            )
        _show(as_json, "", document)


def _show(as_json: bool, text: str, document: dict[str, Any]) -> None:
    """Write a command's answer: `text` for people, or `document` as one JSON line."""
    sys.stdout.write((json.dumps(document) if as_json else text) + "\n")
    sys.stdout.flush()


# ---- commands -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RemoteGateway:
    """What a command works with: the MMS connection, the HTTP API and the model browsed over MMS."""

    client: MmsClient
    api: GatewayApi
    model: RemoteModel


VerbHandler = Callable[[RemoteGateway, argparse.Namespace, ScheduleInput | None, bool], int]


def _status(gw: RemoteGateway, _: argparse.Namespace, __: Any, as_json: bool) -> int:
    status = ops.status(gw.client, gw.model)
    _show(as_json, status_text(status), status_json(status))
    return EX_OK


def _write(gw: RemoteGateway, args: argparse.Namespace, given: ScheduleInput | None, as_json: bool) -> int:
    assert given is not None  # parsed before connecting
    schedule = gw.model.schedule(args.schedule)
    written = ops.write_schedule(gw.client, gw.api, schedule, given)
    text = f"{schedule.ref}: wrote {len(written)} attributes" + (", enabled" if given.enable else "")
    _show(as_json, text, {"schedule": schedule.ref, "written": written, "enabled": given.enable})
    return EX_OK


def _switch(enable: bool) -> VerbHandler:
    def command(gw: RemoteGateway, args: argparse.Namespace, _: Any, as_json: bool) -> int:
        schedule = gw.model.schedule(args.schedule)
        (ops.enable if enable else ops.disable)(gw.client, gw.api, schedule)
        text = f"{schedule.ref}: {'enabled' if enable else 'disabled'}"
        _show(as_json, text, {"schedule": schedule.ref, "enabled": enable})
        return EX_OK

    return command


def _forecast(gw: RemoteGateway, args: argparse.Namespace, _: Any, as_json: bool) -> int:
    if args.hours <= 0:
        raise UsageError("--hours must be positive")
    controller = gw.model.controller(args.controller)
    points = gw.api.forecast(controller.ref, args.hours)
    _show(as_json, forecast_text(points), forecast_json(controller.ref, points))
    return EX_OK


def _watch(gw: RemoteGateway, args: argparse.Namespace, _: Any, as_json: bool) -> int:
    client = gw.client
    arrived: queue.Queue[Report] = queue.Queue()
    subscriptions = [ReportSubscription(client, ld, arrived.put) for ld in gw.model.lds]
    if not any(s.rcbs for s in subscriptions):
        raise UsageError("the gateway serves no unbuffered report control blocks")
    printed = 0
    # Ctrl-C or a supervisor's SIGTERM ends `watch`, also where SIGINT was inherited as ignored (a shell's
    # background job), in which case Python would not install its own handler.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    try:
        while args.count is None or printed < args.count:
            try:
                report = arrived.get(timeout=_IDLE_CHECK_S)
            except queue.Empty:
                if not client.connected:
                    raise UnreachableError(f"{client.host}:{client.port}: connection lost") from None
                continue
            _show(as_json, "\n".join(report_lines(report)), report_json(report))
            printed += 1
    except KeyboardInterrupt:
        # Ctrl-C ends `watch`. libiec61850's receive thread may sit in a report callback waiting for the
        # GIL; tearing the subscriptions and the connection down from here can deadlock with it, so leave
        # at once: the kernel closes the socket and the server frees the report blocks.
        sys.stdout.flush()
        os._exit(EX_OK)
    return EX_OK


_COMMANDS: dict[str, VerbHandler] = {
    "status": _status,
    "write": _write,
    "enable": _switch(enable=True),
    "disable": _switch(enable=False),
    "forecast": _forecast,
    "watch": _watch,
}
