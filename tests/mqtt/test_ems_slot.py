"""EMS extension requests placed in their slot by `EmsSlot`, against a real engine on fake time."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from lxml import etree

from relevent.app import ems_handler
from relevent.config import DeviceEntry, MqttSection
from relevent.errors import ConfigError
from relevent.lan.mqtt.ems_slot import EmsSlot, device_range
from relevent.lan.mqtt.seams import ExtensionAccepted, ExtensionRejected, ExtensionRequest
from relevent.lan.registry import Device, DeviceRegistry
from relevent.scheduler.discovery import model_spec
from relevent.scheduler.policy import Lockable, SchedulePolicy
from relevent.scl.generate import DEFAULT_MODEL, SCL_NS
from relevent.scl.parse import load
from tests.scheduler.factory import BASE, ln, reference_like_spec, small_spec
from tests.scheduler.harness import Harness, start_engine

pytestmark = pytest.mark.looptime(start=0)

ACT = ln("ActPow_FSCH01")
MAX = ln("MaxPow_FSCH01")
TOPIC = "site/ems/request"


def slot(h: Harness, ref: str = ACT, priority: int = 60) -> EmsSlot:
    return EmsSlot(h.engine, ref, priority=priority, peer=TOPIC, clock=h.clock.now)


def request(*values: float, start: float | None = BASE + 60, direction: str = "IMPORT") -> ExtensionRequest:
    return ExtensionRequest(direction, start, 900, values)  # type: ignore[arg-type]


def parameters(h: Harness, ref: str, entries: int) -> dict[str, object]:
    names = ["NumEntr.setVal", "SchdIntv.setVal", "SchdPrio.setVal", "StrTm01.setTm", "SchdSt.stVal"]
    values = [h.value(f"{ref}.ValASG{i:03d}.setMag.f") for i in range(1, entries + 1)]
    return {"values": values} | {name: h.value(f"{ref}.{name}") for name in names}


async def test_an_import_request_becomes_a_ready_schedule_of_negative_power(tmp_path: Path) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    answer = await slot(h).submit(request(42, 1337, 0))
    assert answer == ExtensionAccepted(ACT)
    assert parameters(h, ACT, 3) == {
        "values": [-42.0, -1337.0, 0.0],
        "NumEntr.setVal": 3,
        "SchdIntv.setVal": 900,
        "SchdPrio.setVal": 60,
        "StrTm01.setTm": BASE + 60,
        "SchdSt.stVal": 3,
    }
    await h.sleep_until(BASE + 60)
    assert h.engine.output(ln("ActPow_FSCC1")) is not None
    assert h.recorder.timeline(ln("ActPow_FSCC1"))[-1] == (60, -42.0, "ActPow_FSCH01")


async def test_export_values_and_maximum_power_limits_keep_their_sign(tmp_path: Path) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    assert await slot(h).submit(request(5, direction="EXPORT")) == ExtensionAccepted(ACT)
    assert await slot(h, MAX).submit(request(7, direction="IMPORT")) == ExtensionAccepted(MAX)
    assert h.value(f"{ACT}.ValASG001.setMag.f") == 5.0
    assert h.value(f"{MAX}.ValASG001.setMag.f") == 7.0


async def test_start_now_is_the_current_whole_second_and_runs_at_once(tmp_path: Path) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    await h.sleep_until(BASE + 10.25)
    assert await slot(h).submit(request(100, 200, start=None)) == ExtensionAccepted(ACT)
    assert h.value(f"{ACT}.StrTm01.setTm") == BASE + 10
    assert h.value(f"{ACT}.SchdSt.stVal") == 4
    assert h.recorder.timeline(ln("ActPow_FSCC1"))[-1] == (10.25, -100.0, "ActPow_FSCH01")


async def test_a_new_request_replaces_the_running_one_and_clears_other_start_times(tmp_path: Path) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    h.program(ACT, values=[1.0, 2.0], intv=60, prio=10, starts=[BASE, BASE + 3600])
    assert h.value(f"{ACT}.SchdSt.stVal") == 4
    assert await slot(h).submit(request(300, start=BASE + 120)) == ExtensionAccepted(ACT)
    assert h.value(f"{ACT}.StrTm02.setTm") == 0.0
    assert h.value(f"{ACT}.SchdSt.stVal") == 3
    await h.sleep_until(BASE + 120)
    assert h.recorder.timeline(ln("ActPow_FSCC1"))[-1] == (120, -300.0, "ActPow_FSCH01")


@pytest.mark.parametrize(
    ("model", "ref", "req"),
    [
        (small_spec(slots=10), ln("F_FSCH01"), request(*range(11))),
        (small_spec(intv_unit=3600), ln("F_FSCH01"), request(1)),  # 900 s is no whole number of hours
        (reference_like_spec(), ACT, request(1, 2, start=BASE - 1800)),  # the run ended at BASE
    ],
    ids=["too_many_values", "interval_unit", "run_over"],
)
async def test_out_of_range_requests_leave_the_running_schedule_alone(
    tmp_path: Path, model: object, ref: str, req: ExtensionRequest
) -> None:
    h = start_engine(model, tmp_path / "db")  # type: ignore[arg-type]
    h.program(ref, values=[1.0], intv=600, prio=10, starts=[BASE])
    before = parameters(h, ref, 1)
    assert await slot(h, ref).submit(req) == ExtensionRejected("out_of_range")
    assert parameters(h, ref, 1) == before
    assert before["SchdSt.stVal"] == 4


async def test_a_refused_request_answers_the_engine_reason_and_leaves_the_running_schedule_alone(
    tmp_path: Path,
) -> None:
    locked = {ACT: SchedulePolicy(locked=frozenset({Lockable.SCHD_PRIO}))}
    h = start_engine(reference_like_spec(), tmp_path / "db", policies=locked)
    for ref, value in (("ValASG001.setMag.f", 1.0), ("NumEntr.setVal", 1), ("SchdIntv.setVal", 600)):
        h.write(f"{ACT}.{ref}", value)
    h.write(f"{ACT}.StrTm01.setTm", BASE)
    h.enable(ACT)
    before = parameters(h, ACT, 1)
    assert before["SchdSt.stVal"] == 4
    assert await slot(h).submit(request(5)) == ExtensionRejected("access_denied")
    assert parameters(h, ACT, 1) == before  # one command, refused as a whole: nothing written


async def test_a_request_is_one_engine_command(tmp_path: Path) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    assert await slot(h).submit(request(*range(100))) == ExtensionAccepted(ACT)
    assert [(c.command, c.ref) for c in h.recorder.commands] == [("program", ACT)]


@pytest.mark.parametrize(
    ("ref", "req"),
    [
        (ACT, request(11_001)),  # IMPORT: -11001 W, below the battery's w_min
        (ACT, request(11_001, direction="EXPORT")),
        (MAX, request(1e30)),  # a limit beyond the largest magnitude
        (MAX, request(1e300)),
    ],
)
async def test_values_beyond_the_devices_limits_are_out_of_range(
    tmp_path: Path, ref: str, req: ExtensionRequest
) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    battery = Device("bat1", "battery", {"w_set": ln("ActPow_FSCC1"), "w_max_lim": ln("MaxPow_FSCC1")},
                     w_min=-11_000.0, w_max=11_000.0)  # fmt: skip
    bounds = device_range(DeviceRegistry.of([battery]), [ln("ActPow_FSCC1"), ln("MaxPow_FSCC1")])
    ems = EmsSlot(h.engine, ref, priority=60, peer=TOPIC, device_range=bounds, clock=h.clock.now)
    assert await ems.submit(req) == ExtensionRejected("out_of_range")
    assert h.recorder.commands == []
    assert await ems.submit(request(11_000)) == ExtensionAccepted(ref)


@pytest.mark.parametrize("watts", [1e30, 1e300])
async def test_without_device_limits_the_model_bounds_the_values(tmp_path: Path, watts: float) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    ems = EmsSlot(h.engine, MAX, priority=60, peer=TOPIC, watts_per_unit=1e-9, clock=h.clock.now)  # nW
    assert await ems.submit(request(watts)) == ExtensionRejected("out_of_range")
    assert h.recorder.commands == []


def test_the_device_range_is_the_widest_of_the_followers() -> None:
    act, mx = ln("ActPow_FSCC1"), ln("MaxPow_FSCC1")
    small = Device("a", None, {"w_set": act, "w_max_lim": mx}, w_min=-3000.0, w_max=5000.0)
    large = Device("b", None, {"w_set": act}, w_min=-11_000.0, w_max=2000.0)
    open_ended = Device("c", None, {"w_set": act}, w_max=7000.0)
    assert device_range(DeviceRegistry.of([small, large]), [act]) == (-11_000.0, 5000.0)
    assert device_range(DeviceRegistry.of([small, large]), [mx]) == (0.0, 5000.0)
    assert device_range(DeviceRegistry.of([small, open_ended]), [act]) == (-math.inf, 7000.0)
    assert device_range(DeviceRegistry.of([]), [act]) == (-math.inf, math.inf)


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("@Control/NoSuch_FSCH01", "not a schedule"),
        ("@Control/OnOff_FSCH01", "SPG values"),
        ("@Control/ActPow_Res_FSCH01", "reserve"),
    ],
)
async def test_a_slot_that_cannot_hold_requests_is_a_config_error(
    tmp_path: Path, ref: str, problem: str
) -> None:
    h = start_engine(reference_like_spec(), tmp_path / "db")
    with pytest.raises(ConfigError, match=problem):
        slot(h, ref)


async def test_the_gateway_builds_the_handler_from_the_model_only_when_the_request_topic_is_set(
    tmp_path: Path,
) -> None:
    doc = load(DEFAULT_MODEL)
    h = start_engine(model_spec(doc), tmp_path / "db")
    assert ems_handler(MqttSection(), h.engine, doc) is None
    with pytest.raises(ConfigError, match="ems_slot"):
        ems_handler(MqttSection(ems_request_topic=TOPIC), h.engine, doc)
    handler = ems_handler(
        MqttSection(ems_request_topic=TOPIC, ems_slot="@Control/MaxPow_FSCH01"), h.engine, doc
    )
    assert handler is not None
    assert handler.slot == MAX
    # The reference model's powers are kW (units.multiplier 3); requests are W.
    assert await handler.submit(request(2500, start=time.time() + 3600)) == ExtensionAccepted(MAX)
    assert h.value(f"{MAX}.ValASG001.setMag.f") == 2.5


async def test_the_gateway_bounds_the_handler_by_the_configured_devices(tmp_path: Path) -> None:
    doc = load(DEFAULT_MODEL)
    h = start_engine(model_spec(doc), tmp_path / "db")
    evse = DeviceEntry.model_validate({
        "id": "evse1", "class": "ev_charger", "w_max_lim": "@Control/MaxPow_FSCC1",
        "w_min": -7400.0, "w_max": 0.0,
    })  # fmt: skip
    mqtt = MqttSection(ems_request_topic=TOPIC, ems_slot="@Control/MaxPow_FSCH01")
    handler = ems_handler(mqtt, h.engine, doc, (evse,))
    assert handler is not None
    start = time.time() + 3600
    assert await handler.submit(request(7401, start=start)) == ExtensionRejected("out_of_range")
    assert await handler.submit(request(7400, start=start)) == ExtensionAccepted(MAX)


def _with_output_range(path: Path, ggio: str, low: str, high: str) -> Path:
    """The default model with `minVal`/`maxVal` (kW) set on one GGIO's `AnOut1`, written to `path`."""
    tree = etree.parse(str(DEFAULT_MODEL))
    ns = {"scl": SCL_NS}
    prefix, _, _ = ggio.partition("GGIO")
    ln = tree.xpath(f"//scl:LN[@lnClass='GGIO'][@prefix='{prefix}']", namespaces=ns)[0]
    doi = etree.SubElement(ln, f"{{{SCL_NS}}}DOI", name="AnOut1")
    for name, value in (("minVal", low), ("maxVal", high)):
        sdi = etree.SubElement(doi, f"{{{SCL_NS}}}SDI", name=name)
        etree.SubElement(etree.SubElement(sdi, f"{{{SCL_NS}}}DAI", name="f"), f"{{{SCL_NS}}}Val").text = value
    tree.write(str(path))
    return path


async def test_the_models_output_range_bounds_the_requests(tmp_path: Path) -> None:
    doc = load(_with_output_range(tmp_path / "model.cid", "MaxPow_GGIO1", "0", "5"))  # kW
    h = start_engine(model_spec(doc), tmp_path / "db")
    mqtt = MqttSection(ems_request_topic=TOPIC, ems_slot="@Control/MaxPow_FSCH01")
    handler = ems_handler(mqtt, h.engine, doc)
    assert handler is not None
    start = time.time() + 3600
    assert await handler.submit(request(5001, start=start)) == ExtensionRejected("out_of_range")
    assert await handler.submit(request(5000, start=start)) == ExtensionAccepted(MAX)
