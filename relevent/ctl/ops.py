"""The commands of relevent-ctl as operations on one connection: status, write, enable and disable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relevent.ctl.client import MmsClient, Scalar
from relevent.ctl.errors import RefusedError, UsageError
from relevent.ctl.model import RemoteController, RemoteModel, RemoteSchedule
from relevent.ctl.readings import Reading, reading, state_name
from relevent.ctl.schedule_input import ScheduleInput, typed_value


@dataclass(frozen=True)
class ScheduleStatus:
    """One schedule as `status` shows it."""

    ref: str
    state: str
    prio: Scalar | None
    entry: Scalar | None
    num_entr: Scalar | None
    interval: Scalar | None
    output: Reading
    next_start: Reading
    ena_err: Scalar | None


@dataclass(frozen=True)
class ControllerStatus:
    """One controller as `status` shows it, with the schedules it lists (in `SchdNN` order)."""

    ref: str
    active: Reading
    output: Reading
    schedules: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    """Every controller and schedule of the gateway."""

    controllers: tuple[ControllerStatus, ...]
    schedules: tuple[ScheduleStatus, ...]


def status(client: MmsClient, model: RemoteModel) -> Status:
    """Read the state of every controller and schedule (a few reads each)."""
    return Status(
        tuple(_controller_status(client, model, c) for c in model.controllers),
        tuple(_schedule_status(client, s) for s in model.schedules),
    )


def _controller_status(
    client: MmsClient, model: RemoteModel, controller: RemoteController
) -> ControllerStatus:
    ref = controller.ref
    settings = client.read_tree(ref, "SP")
    listed = [settings.get(name, {}).get("setSrcRef") for name in controller.schedule_names]
    known = {s.ref for s in model.schedules}
    output = client.read_tree(ref, controller.output.fc).get(controller.output.do, {})
    return ControllerStatus(
        ref,
        reading(client.read_tree(ref, "ST").get("ActSchdRef", {})),
        reading(output),
        tuple(item for item in listed if isinstance(item, str) and item in known),
    )


def _schedule_status(client: MmsClient, schedule: RemoteSchedule) -> ScheduleStatus:
    ref = schedule.ref
    settings = client.read_tree(ref, "SP")
    states = client.read_tree(ref, "ST")
    output = schedule.output
    measured = states if output.fc == "ST" else client.read_tree(ref, output.fc)

    def setting(do: str) -> Scalar | None:
        return _scalar(settings.get(do, {}).get("setVal"))

    def state(do: str) -> Scalar | None:
        return reading(states.get(do, {})).value

    return ScheduleStatus(
        ref,
        state_name(state("SchdSt")),
        setting("SchdPrio"),
        state("SchdEntr"),
        setting("NumEntr"),
        setting("SchdIntv"),
        reading(measured.get(output.do, {})),
        reading(states.get("NxtStrTm", {})),
        state("SchdEnaErr"),
    )


def _scalar(value: object) -> Scalar | None:
    return value if isinstance(value, bool | int | float | str | datetime) else None


def write_schedule(client: MmsClient, schedule: RemoteSchedule, given: ScheduleInput) -> list[str]:
    """Write the given parameters (values and NumEntr, SchdIntv, SchdPrio, StrTm01), then enable if asked.

    Values are checked against the schedule's kind and slots before anything is sent. Returns the
    references written.
    """
    writes: list[tuple[str, Scalar]] = []
    if given.values is not None:
        slots = len(schedule.value_names)
        if len(given.values) > slots:
            raise UsageError(f"{schedule.ref} has {slots} value slots, got {len(given.values)} values")
        typed = [typed_value(schedule.kind, raw) for raw in given.values]
        writes += [(schedule.value_ref(slot), value) for slot, value in enumerate(typed)]
        writes.append((f"{schedule.ref}.NumEntr.setVal", len(typed)))
    if given.interval is not None:
        writes.append((f"{schedule.ref}.SchdIntv.setVal", given.interval))
    if given.prio is not None:
        writes.append((f"{schedule.ref}.SchdPrio.setVal", given.prio))
    if given.start is not None:
        if not schedule.start_names:
            raise UsageError(f"{schedule.ref} has no start time")
        writes.append((f"{schedule.ref}.{schedule.start_names[0]}.setTm", given.start))
    for ref, value in writes:
        client.write(ref, "SP", value)
    if given.enable:
        enable(client, schedule)
    return [ref for ref, _ in writes]


def enable(client: MmsClient, schedule: RemoteSchedule) -> None:
    """Operate `EnaReq`; a refusal carries the `SchdEnaErr` the gateway set."""
    try:
        client.operate(f"{schedule.ref}.EnaReq", ctl_val=True)
    except RefusedError as refused:
        ena_err = client.read(f"{schedule.ref}.SchdEnaErr.stVal", "ST")
        raise RefusedError(
            refused.ref,
            refused.error,
            add_cause=refused.add_cause,
            schd_ena_err=ena_err if isinstance(ena_err, int) else None,
        ) from None


def disable(client: MmsClient, schedule: RemoteSchedule) -> None:
    """Operate `DsaReq`."""
    client.operate(f"{schedule.ref}.DsaReq", ctl_val=True)
