"""`relevent-gw`: run the gateway, check its configuration, validate and generate SCL."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from relevent import __version__
from relevent.app import check, create_state_dir_and_load_scl, serve
from relevent.config import Settings, load_settings
from relevent.demo.ocpp_station import VERSIONS
from relevent.demo.runner import DemoOptions, run_demo
from relevent.errors import ReleventError, ServicesFailedError
from relevent.obs.audit_anchor import ANCHOR_FILE, Anchor, verify
from relevent.obs.audit_key import audit_key
from relevent.obs.audit_show import AGE, SINCE_FORMS, audit_line, since_time
from relevent.obs.audit_store import AUDIT_FILE, GENESIS, AuditStore, Link
from relevent.obs.logging import configure_logging
from relevent.scheduler.discovery import model_spec
from relevent.scl.generate import GeneratorOptions, write_scl
from relevent.scl.parse import load
from relevent.scl.xsd import validate_xsd
from relevent.summary import config_summary, model_line, summary_text

EX_OK, EX_INVALID, EX_USAGE = 0, 1, 2
EX_PIPE = 128 + signal.SIGPIPE  # the reader went away (`| head`): the shell's status of a killed writer

# CLI option -> (config section, key); these override the file and the environment.
_OVERRIDES = {
    "scl": ("scl", "path"),
    "mms_host": ("mms", "host"),
    "mms_port": ("mms", "port"),
    "mqtt_url": ("mqtt", "url"),
    "state_dir": ("storage", "state_dir"),
    "http_port": ("http", "port"),
}


def _gateway_options() -> argparse.ArgumentParser:
    """Options shared by running, checking and the demo; SUPPRESS lets them stand before or after the verb."""
    opts = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    opts.add_argument("--config", type=Path, help="TOML configuration file")
    opts.add_argument("--scl", type=Path, help="SCL model to serve (default: the shipped default model)")
    opts.add_argument("--mms-host", help="address the MMS server binds")
    opts.add_argument("--mms-port", type=int, help="MMS server port (default 102)")
    opts.add_argument("--mqtt-url", help="broker URL, mqtt://host:port or mqtts://host:port")
    opts.add_argument("--state-dir", type=Path, help="directory of the persistent schedule store")
    opts.add_argument("--http-port", type=int, help="port of /healthz, /readyz and /metrics")
    opts.add_argument("--log-format", choices=("json", "console"), help="log line format (default json)")
    opts.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="default info")
    return opts


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    common = _gateway_options()
    parser = argparse.ArgumentParser(prog="relevent-gw", parents=[common], description=__doc__)
    parser.add_argument("--version", action="version", version=f"relevent-gw {__version__}")
    verbs = parser.add_subparsers(dest="verb")
    verbs.add_parser("run", parents=[common], help="run the gateway (the default)")
    check_config = verbs.add_parser("check-config", parents=[common], help="validate configuration and SCL")
    check_config.add_argument("--json", action="store_true", help="print the summary as JSON (for scripts)")
    demo = verbs.add_parser("demo", help="the gateway with a loopback broker, simulated devices and SCADA")
    demo.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    ports = DemoOptions()
    demo.add_argument("--mms-port", type=int, default=ports.mms_port, help="MMS port (default %(default)s)")
    demo.add_argument("--http-port", type=int, default=ports.http_port,
                      help="status page port (default %(default)s)")  # fmt: skip
    demo.add_argument("--scl", type=Path, help="model to serve (default: the shipped default model)")
    demo.add_argument("--hedera", action="store_true", help="also a fake HEDERA and an EMS asking it")
    demo.add_argument("--ocpp-version", choices=VERSIONS, default=ports.ocpp_version,
                      help="the charging station's OCPP (2.1: its EV discharges on ActPow)")  # fmt: skip
    audit = verbs.add_parser("audit", help="the audit trail in the state directory").add_subparsers(
        dest="audit_verb"
    )
    check = audit.add_parser("verify", parents=[common], help="check the keyed chain and its anchor; exit 1 "
                             "naming the first problem")  # fmt: skip
    check.add_argument("--head", type=_head, help="SEQ:MAC of an `audit head` log line the trail must hold")
    show = audit.add_parser("show", parents=[common], help="print the audited changes")
    show.add_argument("--since", type=_since, help=f"only changes at or after this time: {SINCE_FORMS}")
    scl = verbs.add_parser("scl", help="validate or generate SCL files").add_subparsers(dest="scl_verb")
    validate = scl.add_parser("validate", help="check an SCL file (and its XSD conformance with --xsd)")
    validate.add_argument("file", type=Path)
    validate.add_argument("--xsd", type=Path, help="folder holding SCL.xsd (IEC 61850-6 schema)")
    add_generate_arguments(scl.add_parser("generate", help="write the default DER scheduler model"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `relevent-gw`; returns the process exit code."""
    # A crash in a C library (libiec61850, lib60870) or SIGABRT from a watchdog leaves every thread's
    # Python stack on stderr, in the journal.
    faulthandler.enable()
    try:
        return _main(_glued_ages(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # Point stdout at /dev/null: the interpreter's last flush would otherwise fail once more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EX_PIPE


def _glued_ages(argv: Sequence[str]) -> list[str]:
    """`--since -2h` as `--since=-2h`: argparse takes a word starting with `-` for an option."""
    words = list(argv)
    for i, word in enumerate(words[:-1]):
        if word == "--since" and AGE.match(words[i + 1]):
            return [*words[:i], f"--since={words[i + 1]}", *words[i + 2 :]]
    return words


def _main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verb = args.verb or "run"
    try:
        if verb == "scl":
            if args.scl_verb is None:
                parser.error("scl needs a verb: validate or generate")
            return _scl_validate(args) if args.scl_verb == "validate" else run_generate(args)
        if verb == "demo":
            return run_demo(
                DemoOptions(
                    args.duration, args.mms_port, args.http_port, args.scl, args.hedera, args.ocpp_version
                )
            )
        config_file = getattr(args, "config", None)
        settings = load_settings(config_file, _overrides(args))
        if verb == "audit":
            if args.audit_verb is None:
                parser.error("audit needs a verb: verify or show")
            return _audit_verb(args, settings)
        configure_logging(getattr(args, "log_format", "json"), getattr(args, "log_level", "info"))
        doc = create_state_dir_and_load_scl(settings)
        if verb == "check-config":
            check(settings, doc)
            summary = config_summary(settings, doc, config_file)
            print(json.dumps(summary, indent=2) if args.json else summary_text(summary))  # noqa: T201
            return EX_OK
        _run_loop(serve(settings, doc))
    except ReleventError as exc:
        for error in exc.errors if isinstance(exc, ServicesFailedError) else (exc,):
            print(f"relevent-gw: error: {error}", file=sys.stderr)  # noqa: T201
        return exc.exit_code
    return EX_OK


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    sections: dict[str, dict[str, Any]] = {}
    for option, (section, key) in _OVERRIDES.items():
        if hasattr(args, option):
            sections.setdefault(section, {})[key] = getattr(args, option)
    return dict(sections)


def _run_loop(main_coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed, else on the standard loop."""
    runner: Callable[[Coroutine[Any, Any, None]], None]
    try:
        import uvloop  # noqa: PLC0415 - optional accelerator

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main_coro)


def _since(text: str) -> str:
    """`--since` as the audit's time text; argparse prints an ArgumentTypeError's message as it is."""
    try:
        return since_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _audit_verb(args: argparse.Namespace, settings: Settings) -> int:
    state_dir = settings.storage.state_dir  # verify needs the anchor and the key kept there too
    if args.audit_verb == "verify":
        return _audit_verify(state_dir, settings.audit.secret(), args.head)
    return _audit(args, state_dir / AUDIT_FILE)


def _head(text: str) -> Link:
    """`SEQ:MAC` as an `audit head` line logs it; argparse reports the ValueError."""
    seq, _, mac = text.partition(":")
    if len(mac) != len(GENESIS):  # a hex SHA-256
        raise ValueError(text)
    return Link(int(seq), mac.lower())


def _audit_verify(state_dir: Path, configured: SecretStr | None, journal_head: Link | None) -> int:
    """Check the chain under the key, against the anchor and the journal's head; exit 1 naming a problem."""
    path = state_dir / AUDIT_FILE
    key = audit_key(configured, state_dir, create=False)
    anchor = Anchor(state_dir / ANCHOR_FILE, key)
    if not path.is_file() and (anchor.path.is_file() or journal_head):
        problem: str | None = "the trail is gone (its anchor or the journal's head says it existed)"
    else:
        store = AuditStore(path, key, readonly=True)
        try:
            problem, head = verify(store, key, anchor, journal_head), store.head
        finally:
            store.close()
    if problem is not None:
        print(f"{path}: {problem}", file=sys.stderr)  # noqa: T201 - a command's answer
        return EX_INVALID
    print(f"{path}: intact, head {head.seq}:{head.mac}")  # noqa: T201
    return EX_OK


def _audit(args: argparse.Namespace, path: Path) -> int:
    store = AuditStore(path, None, readonly=True)
    try:
        for row in store.rows(getattr(args, "since", None)):
            print(audit_line(row))  # noqa: T201 - a command's answer
    finally:
        store.close()
    return EX_OK


def _scl_validate(args: argparse.Namespace) -> int:
    doc = load(args.file)
    model_spec(doc)  # the checks `check-config` makes of a model: an IED, well-formed schedules
    errors = validate_xsd(args.file, args.xsd) if args.xsd else []
    for error in errors:
        print(error)  # noqa: T201 - each error names its file and line
    if not errors:
        print(f"{args.file}: ok: {model_line(doc)}")  # noqa: T201
    return EX_INVALID if errors else EX_OK


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `relevent-gw scl generate`; defaults are those of the shipped model."""
    defaults = GeneratorOptions()
    parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    parser.add_argument("--ied", default=defaults.ied, help="IED name (default %(default)s)")
    parser.add_argument(
        "--functions", default=",".join(defaults.functions), help="comma separated (default %(default)s)"
    )
    parser.add_argument("--schedules", type=int, default=defaults.schedules, help="per function (default 10)")
    parser.add_argument("--entries", type=int, default=defaults.entries, help="value slots (default 100)")
    parser.add_argument("--start-times", type=int, default=defaults.start_times, help="StrTm (default 16)")
    parser.add_argument("--devices", type=int, default=defaults.devices, help="one LD per device (default 1)")


def run_generate(args: argparse.Namespace) -> int:
    """Write the generated model and say what it holds."""
    try:
        options = GeneratorOptions(
            ied=args.ied,
            functions=tuple(f.strip() for f in args.functions.split(",") if f.strip()),
            schedules=args.schedules,
            entries=args.entries,
            start_times=args.start_times,
            devices=args.devices,
        )
    except ValueError as exc:
        print(f"relevent-gw: error: {exc}", file=sys.stderr)  # noqa: T201
        return EX_USAGE
    write_scl(options, args.output)
    print(f"{args.output}: written: {model_line(load(args.output))}")  # noqa: T201
    return EX_OK
