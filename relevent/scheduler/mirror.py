"""What adapters have been shown: published attributes and controller outputs, and the events changing them.

Pure: every method works on the timeline and the time it is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from relevent.refs import owner_of, split_last
from relevent.scheduler.attributes import ControllerAttributes, ScheduleAttributes, StatusItem
from relevent.scheduler.commands import Rejected, RejectReason
from relevent.scheduler.controller import Controller, ControllerOutput
from relevent.scheduler.events import AttributeChanged, AttributeData, AttributeValue, Event, OutputChanged
from relevent.scheduler.periodic import CALENDAR_FIELDS, CalendarTime
from relevent.scheduler.schedule import Schedule, ScheduleParams
from relevent.scheduler.spec import ModelSpec
from relevent.scheduler.timeline import Timeline
from relevent.scheduler.values import Timestamp


@dataclass(frozen=True)
class Moved:
    """Schedules that moved at instant `t` (by a command or by themselves) and what to publish about them.

    `before` holds each schedule's parameters and enabled flag before the move; `controllers` are those
    whose output the move (or a rebind) may have changed.
    """

    t: Timestamp
    schedules: Sequence[Schedule]
    before: Mapping[str, tuple[ScheduleParams, bool]]
    controllers: Sequence[Controller]

    def changed(self) -> list[Schedule]:
        """The schedules whose parameters or enabled flag differ from `before` (their state is stored)."""
        return [s for s in self.schedules if (s.params, s.enabled) != self.before[s.ref]]


def positions(schedules: Iterable[Schedule]) -> dict[str, tuple[ScheduleParams, bool]]:
    """Each schedule's parameters and enabled flag: the `before` of a `Moved`."""
    return {s.ref: (s.params, s.enabled) for s in schedules}


class Mirror:
    """The attribute values and outputs last published, updated by `outputs` and `status`."""

    def __init__(self, model: ModelSpec) -> None:
        self._model = model
        self.schedule_attrs = {spec.ref: ScheduleAttributes(spec) for spec in model.schedules}
        self.controller_attrs = {spec.ref: ControllerAttributes(spec) for spec in model.controllers}
        self._published: dict[str, AttributeValue] = {}
        self._outputs: dict[str, ControllerOutput] = {}

    def baseline(self, timeline: Timeline, now: Timestamp) -> None:
        """Publish the state at start-up without events: what `snapshot` shows first."""
        defaults = [a.defaults() for a in self.schedule_attrs.values()]
        defaults += [a.defaults() for a in self.controller_attrs.values()]
        for listing in defaults:
            self._published.update({ref: _invalid(value, now) for ref, value in listing.items()})
        controllers = list(timeline.controllers.values())
        self.outputs(timeline, now, controllers)
        self.status(timeline, Moved(now, list(timeline.schedules.values()), {}, controllers))

    def outputs(self, timeline: Timeline, t: Timestamp, controllers: Iterable[Controller]) -> list[Event]:
        """Work out the output of `controllers` at `t`; return the changed ones as events."""
        outputs = [(controller, controller.output(timeline.schedules)) for controller in controllers]
        changed = [(c, o) for c, o in outputs if o != self._outputs.get(c.ref)]
        for controller, output in changed:
            self._outputs[controller.ref] = output
        return [OutputChanged(c.ref, o.value, o.source, o.priority, t) for c, o in changed]

    def status(self, timeline: Timeline, moved: Moved, parameter_events: Iterable[Event] = ()) -> list[Event]:
        """Update the status attributes of what `moved` names; return the changes as events."""
        t = moved.t
        attributes: list[Event] = list(parameter_events)
        for schedule in moved.schedules:
            params_before = moved.before.get(schedule.ref, (schedule.params, schedule.enabled))[0]
            attrs = self.schedule_attrs[schedule.ref]
            if params_before is not schedule.params:
                old = attrs.parameters(params_before)
                attributes += self.parameter_events(timeline, old, schedule.ref, t)
            for item in attrs.status(schedule.status()):
                self._update(attributes, item, t)
        for controller in moved.controllers:
            output = self._outputs[controller.ref]
            for item in self.controller_attrs[controller.ref].status(output):
                self._update(attributes, item, t)
            target = self._model.targets.get(controller.ctl_ent)
            if target is not None:
                self._published.setdefault(target.value_ref, _invalid(target.value_type.default, t))
                self._update(
                    attributes, StatusItem(target.value_ref, output.value, output.value is not None), t
                )
        return attributes

    def parameter_events(
        self, timeline: Timeline, old: Mapping[str, AttributeData], owner: str, t: Timestamp
    ) -> list[Event]:
        """The parameters of `owner` that differ from `old`, as events at `t`."""
        new = self.parameters(timeline, owner)
        return [
            AttributeChanged(ref, value, quality_good=True, timestamp=t)
            for ref, value in new.items()
            if not _same(old.get(ref), value)
        ]

    def parameters(self, timeline: Timeline, owner: str) -> dict[str, AttributeData]:
        """The parameter attributes of one schedule or controller (empty for anything else)."""
        if owner in timeline.schedules:
            return self.schedule_attrs[owner].parameters(timeline.schedules[owner].params)
        if owner in timeline.controllers:
            controller = timeline.controllers[owner]
            return self.controller_attrs[owner].parameters(controller.schedule_refs, controller.ctl_ent)
        return {}

    def read(self, timeline: Timeline | None, ref: str, now: Timestamp) -> AttributeValue | Rejected:
        """The value of one DA (full reference): a published one, or a parameter as of `now`."""
        if ref in self._published:
            return self._published[ref]
        if timeline is None:
            return Rejected(RejectReason.TEMPORARILY_UNAVAILABLE, "scheduler not started")
        listing = self.parameters(timeline, owner_of(ref))
        if ref in listing:
            return AttributeValue(listing[ref], quality_good=True, timestamp=now)
        head, member = split_last(ref)
        cal = listing.get(head)
        if isinstance(cal, CalendarTime) and member in CALENDAR_FIELDS:
            return AttributeValue(getattr(cal, CALENDAR_FIELDS[member][0]), quality_good=True, timestamp=now)
        return Rejected(RejectReason.OBJECT_UNDEFINED, f"no attribute {ref!r}")

    def snapshot(self, timeline: Timeline, now: Timestamp) -> dict[str, AttributeValue]:
        """Every parameter (as of `now`) and every published attribute."""
        attributes = {
            ref: AttributeValue(value, quality_good=True, timestamp=now)
            for owner in [*timeline.schedules, *timeline.controllers]
            for ref, value in self.parameters(timeline, owner).items()
        }
        attributes.update(self._published)
        return attributes

    def output(self, controller_ref: str) -> ControllerOutput | None:
        """The last published output of a controller (full reference)."""
        return self._outputs.get(controller_ref)

    def _update(self, events: list[Event], item: StatusItem, t: Timestamp) -> None:
        """Publish one status attribute at `t` if it changed; a value of None keeps the last value.

        An attribute with its own time (a schedule's output) also changes with it: each boundary counts.
        """
        old = self._published[item.ref]
        shown = old.value if item.value is None else item.value
        stamp = t if item.stamp is None else item.stamp
        if (
            old.quality_good == item.quality_good
            and old.value == shown
            and (item.stamp is None or old.timestamp == stamp)
        ):
            return
        self._published[item.ref] = AttributeValue(shown, quality_good=item.quality_good, timestamp=stamp)
        events.append(AttributeChanged(item.ref, shown, quality_good=item.quality_good, timestamp=stamp))


def _invalid(value: AttributeData, t: Timestamp) -> AttributeValue:
    return AttributeValue(value, quality_good=False, timestamp=t)


def _same(old: AttributeData | None, new: AttributeData) -> bool:
    """Equality that treats NaN (a "missing" schedule value) as equal to itself."""
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return old == new
