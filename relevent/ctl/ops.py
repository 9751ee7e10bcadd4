"""The commands of relevent-ctl as operations on one connection: status, write, enable and disable."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from relevent.ctl.client import MmsClient, Scalar
from relevent.ctl.errors import CtlError, Refusal, RefusedError, UnreachableError, UsageError
from relevent.ctl.gateway_api import CheckStep, GatewayApi
from relevent.ctl.model import RemoteController, RemoteModel, RemoteSchedule
from relevent.ctl.readings import Reading, reading, state_name
from relevent.ctl.schedule_input import ScheduleInput, typed_value
from relevent.refs import owner_of


@dataclass(frozen=True)
class RemoteScheduleStatus:
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
class RemoteControllerStatus:
    """One controller as `status` shows it, with the schedules it lists (in `SchdNN` order)."""

    ref: str
    active: Reading
    output: Reading
    schedules: tuple[str, ...]


@dataclass(frozen=True)
class RemoteStatus:
    """Every controller and schedule of the gateway."""

    controllers: tuple[RemoteControllerStatus, ...]
    schedules: tuple[RemoteScheduleStatus, ...]


def status(client: MmsClient, model: RemoteModel) -> RemoteStatus:
    """Read the state of every controller and schedule (a few reads each)."""
    return RemoteStatus(
        tuple(_controller_status(client, model, c) for c in model.controllers),
        tuple(_schedule_status(client, s) for s in model.schedules),
    )


def _controller_status(
    client: MmsClient, model: RemoteModel, controller: RemoteController
) -> RemoteControllerStatus:
    ref = controller.ref
    settings = client.read_tree(ref, "SP")
    listed = [settings.get(name, {}).get("setSrcRef") for name in controller.schedule_names]
    known = {s.ref for s in model.schedules}
    output = client.read_tree(ref, controller.output.fc).get(controller.output.do, {})
    return RemoteControllerStatus(
        ref,
        reading(client.read_tree(ref, "ST").get("ActSchdRef", {})),
        reading(output),
        tuple(item for item in listed if isinstance(item, str) and item in known),
    )


def _schedule_status(client: MmsClient, schedule: RemoteSchedule) -> RemoteScheduleStatus:
    ref = schedule.ref
    settings = client.read_tree(ref, "SP")
    states = client.read_tree(ref, "ST")
    output = schedule.output
    measured = states if output.fc == "ST" else client.read_tree(ref, output.fc)

    def setting(do: str) -> Scalar | None:
        return _scalar(settings.get(do, {}).get("setVal"))

    def state(do: str) -> Scalar | None:
        return reading(states.get(do, {})).value

    return RemoteScheduleStatus(
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


def write_schedule(
    client: MmsClient, api: GatewayApi, schedule: RemoteSchedule, given: ScheduleInput
) -> list[str]:
    """Write the given parameters (SchdPrio, values and NumEntr, SchdIntv, StrTm01), then enable if asked.

    All or nothing, as far as the gateway can tell beforehand: values are checked against the schedule's
    kind and slots, then the gateway's dry run (`/api/check`) tries the whole request by its own locks and
    validation rules; nothing is sent when it would refuse any part. The requests then go in the order it
    checked them, so that its check of this client's rights, which the dry run cannot make (HTTP names no
    actor), comes first: rights cover a schedule as a whole, and a priority band is checked on the SchdPrio
    write, or, when there is none, on a test-mode EnaReq sent ahead (it changes nothing). A refusal after
    all says which requests took effect. Returns the references written.
    """
    steps = _write_steps(schedule, given)
    planned = tuple(step.ref for step in steps)
    refused = api.check(steps)
    if refused is not None:
        raise RefusedError(
            Refusal(
                steps[refused.step].ref,
                schd_ena_err=refused.schd_ena_err,
                reason=refused.reason,
                because=refused.message,
                written=(),
                not_written=planned,
            )
        )
    if given.enable and given.prio is None and len(steps) > 1:
        try:
            client.operate(steps[-1].ref, ctl_val=True, test=True)
        except RefusedError as exc:
            raise RefusedError(replace(exc.refusal, written=(), not_written=planned)) from None
    for done, step in enumerate(steps):
        try:
            _send(client, step)
        except RefusedError as exc:
            refusal = replace(_explained(api, exc.refusal, step), written=planned[:done])
            raise RefusedError(replace(refusal, not_written=planned[done:])) from None
        except UnreachableError as exc:
            raise UnreachableError(f"{exc}\n  written: {', '.join(planned[:done]) or 'nothing'}") from None
    return [step.ref for step in steps if not step.operate]


def _write_steps(schedule: RemoteSchedule, given: ScheduleInput) -> list[CheckStep]:
    """The requests of a write command, in the order they are checked and sent."""
    steps: list[CheckStep] = []
    if given.prio is not None:
        steps.append(CheckStep(f"{schedule.ref}.SchdPrio.setVal", given.prio))
    if given.values is not None:
        slots = len(schedule.value_names)
        if len(given.values) > slots:
            raise UsageError(f"{schedule.ref} has {slots} value slots, got {len(given.values)} values")
        typed = [typed_value(schedule.kind, raw) for raw in given.values]
        steps += [CheckStep(schedule.value_ref(slot), value) for slot, value in enumerate(typed)]
        steps.append(CheckStep(f"{schedule.ref}.NumEntr.setVal", len(typed)))
    if given.interval is not None:
        steps.append(CheckStep(f"{schedule.ref}.SchdIntv.setVal", given.interval))
    if given.start is not None:
        if not schedule.start_names:
            raise UsageError(f"{schedule.ref} has no start time")
        steps.append(CheckStep(f"{schedule.ref}.{schedule.start_names[0]}.setTm", given.start))
    if given.enable:
        steps.append(_control(schedule, "EnaReq"))
    return steps


def enable(client: MmsClient, api: GatewayApi, schedule: RemoteSchedule) -> None:
    """Operate `EnaReq`; a refusal carries the `SchdEnaErr` the gateway set, and its reason."""
    _operate(client, api, _control(schedule, "EnaReq"))


def disable(client: MmsClient, api: GatewayApi, schedule: RemoteSchedule) -> None:
    """Operate `DsaReq`; a refusal carries the gateway's reason."""
    _operate(client, api, _control(schedule, "DsaReq"))


def _control(schedule: RemoteSchedule, name: str) -> CheckStep:
    return CheckStep(f"{schedule.ref}.{name}", value=True, operate=True)


def _operate(client: MmsClient, api: GatewayApi, step: CheckStep) -> None:
    try:
        _send(client, step)
    except RefusedError as exc:
        raise RefusedError(_explained(api, exc.refusal, step)) from None


def _send(client: MmsClient, step: CheckStep) -> None:
    """Send one request over MMS; a refused EnaReq carries the `SchdEnaErr` the gateway set."""
    if not step.operate:
        client.write(step.ref, "SP", step.value)
        return
    try:
        client.operate(step.ref, ctl_val=True)
    except RefusedError as exc:
        if not step.ref.endswith(".EnaReq"):
            raise
        ena_err = client.read(f"{owner_of(step.ref)}.SchdEnaErr.stVal", "ST")
        refusal = replace(exc.refusal, schd_ena_err=ena_err if isinstance(ena_err, int) else None)
        raise RefusedError(refusal) from None


def _explained(api: GatewayApi, refusal: Refusal, step: CheckStep) -> Refusal:
    """`refusal` with the gateway's reason in words, when its dry run of `step` gives one.

    Best effort: without an answer from the HTTP API the codes still say what failed.
    """
    try:
        found = api.check([step])
    except CtlError:
        return refusal
    return refusal if found is None else replace(refusal, because=found.message)
