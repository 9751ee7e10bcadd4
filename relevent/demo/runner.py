"""`relevent-gw demo`: a loopback broker, the gateway, simulated devices and a SCADA, in one command.

The devices: a battery and an EV charger over MQTT, a charging station over OCPP, a PV inverter over
SunSpec (Modbus TCP).

The gateway runs as its own process, exactly as in production; the demo process plays the world around
it: the broker's owner, the devices on the LAN and the SCADA on the WAN. Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relevent.config import HttpSection, default
from relevent.demo.broker import LoopbackBroker
from relevent.demo.devices import SimulatedDevice
from relevent.demo.hedera import ems_asks, fake_hedera
from relevent.demo.ocpp_station import SimulatedStation, StationOptions
from relevent.demo.scada import program_demo
from relevent.demo.sunspec_inverter import SimulatedInverter
from relevent.errors import StartupError
from relevent.lan.mqtt.topics import Topics
from relevent.obs.logging import configure_logging
from relevent.obs.task_dump import install_task_dump
from relevent.ports import free_port
from relevent.refs import without_ld
from relevent.waits import wait_set

GATEWAY_ID = "demo"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0  # the gateway's own stop takes well under a second
SUMMARY_PERIOD_S = 2.0
# The devices of the demo site: id, class, rating and natural demand in W (negative: consumption), and
# the controllers they follow.
DEVICES = (
    ("bat1", "battery", 5000.0, 0.0, {"w_set": "ActPow", "w_max_lim": "MaxPow", "on": "OnOff"}),
    ("evse1", "ev_charger", 11000.0, -11000.0, {"w_max_lim": "MaxPow", "on": "OnOff"}),
)
# A charging station over OCPP beside them, the gateway its CSMS, and a PV inverter over SunSpec (Modbus
# TCP), both following the same controllers. A 2.1 station's EV is bidirectional: it follows the
# aggregator's ActPow too, discharging where that asks for injection.
STATION = "cs1"
STATION_BINDINGS = {"w_max_lim": "MaxPow", "on": "OnOff"}
V2X_BINDINGS = {**STATION_BINDINGS, "w_set": "ActPow"}
INVERTER = "pv1"
INVERTER_BINDINGS = {"w_max_lim": "MaxPow", "on": "OnOff"}


@dataclass(frozen=True)
class DemoOptions:
    """What `relevent-gw demo` accepts on its command line."""

    duration_s: float | None = None
    mms_port: int = 10102
    http_port: int = default(HttpSection, "port")
    scl: Path | None = None
    hedera: bool = False  # also a fake HEDERA and an EMS asking it for capacity
    ocpp_version: str = "2.0.1"  # the charging station's ("2.1": with a bidirectional EV)

    @property
    def v2x(self) -> bool:
        """Whether the station's EV discharges (OCPP 2.1, ISO 15118-20 BPT)."""
        return self.ocpp_version == "2.1"


def demo_config(broker_url: str, ocpp_port: int, modbus_port: int, *, v2x: bool = False) -> str:
    """The gateway's TOML for the demo site (`v2x`: the station's EV follows ActPow too)."""
    lines = [
        f'[gateway]\nid = "{GATEWAY_ID}"', f'[mqtt]\nurl = "{broker_url}"\nheartbeat_s = 10.0',
        f'[ocpp]\nhost = "127.0.0.1"\nport = {ocpp_port}',
    ]  # fmt: skip
    devices = [(d, c, "mqtt", bindings) for d, c, _, _, bindings in DEVICES]
    devices.append((STATION, "ev_charger", "ocpp", V2X_BINDINGS if v2x else STATION_BINDINGS))
    devices.append((INVERTER, "pv_inverter", "sunspec", INVERTER_BINDINGS))
    for device_id, device_class, protocol, bindings in devices:
        lines.append(f'[[devices]]\nid = "{device_id}"\nclass = "{device_class}"\nprotocol = "{protocol}"')
        lines += [f'{field} = "@Control/{function}_FSCC1"' for field, function in bindings.items()]
        if device_id == "bat1":
            lines.append('mmxu = "@Control/MMXU1"')
        if protocol == "sunspec":
            lines.append(f'sunspec = {{ host = "127.0.0.1", port = {modbus_port}, poll_s = 1.0 }}')
    return "\n".join(lines) + "\n"


def _ctl_command(mms_port: int) -> str:
    """`relevent-ctl` aimed at the demo's gateway, ready to paste: from this interpreter's bin directory."""
    ctl = shutil.which("relevent-ctl", path=Path(sys.executable).parent) or "relevent-ctl"
    return f"{shlex.quote(ctl)} --port {mms_port}"


def run_demo(options: DemoOptions) -> int:
    """Run until Ctrl-C (or `duration_s`); return the exit code."""
    return asyncio.run(_demo(options))


async def _demo(options: DemoOptions) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="relevent-demo-"))
    # The simulators' libraries (pymodbus, websockets, aiomqtt) log to a file: the terminal is the person's.
    configure_logging("console", "info", (workdir / "demo.log").open("a", encoding="utf-8"))
    broker = LoopbackBroker(workdir)
    broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    install_task_dump(loop)  # into demo.log
    gateway: asyncio.subprocess.Process | None = None
    code = 0
    optional = contextlib.AsyncExitStack()
    try:
        hedera = await optional.enter_async_context(fake_hedera(workdir)) if options.hedera else ""
        ocpp_port, modbus_port = free_port(), free_port()
        inverter = SimulatedInverter()
        await inverter.server.start("127.0.0.1", modbus_port)
        optional.push_async_callback(inverter.server.stop)
        toml = demo_config(broker.url, ocpp_port, modbus_port, v2x=options.v2x) + hedera
        gateway = await _start_gateway(workdir, toml, options)
        _say(f"gateway up: MMS 127.0.0.1:{options.mms_port}, broker {broker.url}, logs in {workdir}")
        _say(f"status page: http://127.0.0.1:{options.http_port}/")
        _say(f"SCADA client, in another shell: {_ctl_command(options.mms_port)} status")
        topics = Topics("relevent/v1", GATEWAY_ID)
        devices = [
            SimulatedDevice(d, topics, broker.host, broker.port, rated_w=rated, natural_w=natural)
            for d, _, rated, natural, _ in DEVICES
        ]
        station = SimulatedStation(
            StationOptions(
                station_id=STATION,
                version=options.ocpp_version,
                v2x=options.v2x,
                meter_interval_s=SUMMARY_PERIOD_S,
            )
        )
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(device.run()) for device in devices]
            tasks.append(group.create_task(station.run(f"ws://127.0.0.1:{ocpp_port}/ocpp/{STATION}")))
            written = await asyncio.to_thread(program_demo, "127.0.0.1", options.mms_port, options.http_port)
            for line in written:
                _say(f"SCADA wrote {line}")
            tasks.append(group.create_task(_summaries(options.http_port, devices, station, inverter)))
            if options.hedera:
                tasks.append(group.create_task(ems_asks(broker.host, broker.port, _say)))
            await wait_set(stop, options.duration_s)
            for task in tasks:
                task.cancel()
    finally:
        if gateway is not None and not await _stopped(gateway):
            _say(f"the gateway did not stop in {STOP_TIMEOUT_S:.0f} s and was aborted: {workdir}/gateway.log")
            code = 1
        broker.kill()
        await optional.aclose()
    _say("demo stopped")
    return code


async def _stopped(gateway: asyncio.subprocess.Process) -> bool:
    """SIGTERM, and SIGABRT after `STOP_TIMEOUT_S` (its stacks go to its log); whether it stopped in time."""
    if gateway.returncode is not None:
        return True
    gateway.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await gateway.wait()
    except TimeoutError:
        gateway.send_signal(signal.SIGABRT)
        await gateway.wait()
        return False
    return True


async def _start_gateway(workdir: Path, toml: str, options: DemoOptions) -> asyncio.subprocess.Process:
    config = workdir / "gateway.toml"
    config.write_text(toml)
    args = [
        "-m", "relevent", "--config", str(config), "--state-dir", str(workdir / "state"),
        "--log-format", "json", "--mms-host", "127.0.0.1", "--mms-port", str(options.mms_port),
        "--http-port", str(options.http_port),
    ]  # fmt: skip
    if options.scl is not None:
        args += ["--scl", str(options.scl)]
    log = (workdir / "gateway.log").open("ab")
    process = await asyncio.create_subprocess_exec(sys.executable, *args, stdout=log, stderr=log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _ready(options.http_port):
        if process.returncode is not None or time.monotonic() > deadline:
            if process.returncode is None:
                process.kill()
            tail = (workdir / "gateway.log").read_text(errors="replace")[-1500:]
            raise StartupError(f"the gateway did not become ready:\n{tail}")
        await asyncio.sleep(0.1)
    return process


def _ready(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


async def _summaries(
    http_port: int, devices: list[SimulatedDevice], station: SimulatedStation, inverter: SimulatedInverter
) -> None:
    while True:
        await asyncio.sleep(SUMMARY_PERIOD_S)
        status = await asyncio.to_thread(_status, http_port)
        _say(_summary(status, devices, station, inverter))


def _status(http_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/status", timeout=2) as reply:
        data: dict[str, Any] = json.load(reply)
        return data


def _summary(
    status: dict[str, Any],
    devices: list[SimulatedDevice],
    station: SimulatedStation,
    inverter: SimulatedInverter,
) -> str:
    outputs = []
    for controller in status["controllers"]:
        name = without_ld(controller["ref"]).removesuffix("_FSCC1")
        source = without_ld(controller["source"] or "none")
        outputs.append(f"{name}={controller['value']} ({source})")
    seen = [
        f"{d.id}: {d.model.power_w:8.1f} W ({d.commands_received} cmds{', fallback' if d.fallback else ''})"
        for d in devices
    ]
    # the EV draws: consumption, negative (a discharging one: positive)
    seen.append(f"{STATION}: {-station.power_w():8.1f} W (ocpp {station.options.version})")
    seen.append(f"{INVERTER}: {inverter.power_w:8.1f} W (sunspec)")
    return "  ".join(outputs) + "  |  " + "  ".join(seen)


def _say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)  # noqa: T201 - the demo talks to a person
