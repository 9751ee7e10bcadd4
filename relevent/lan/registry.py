"""The devices the drivers command and the controllers each command field follows.

Built once from the SCL model and the `[[devices]]` entries; without entries every logical device that holds
controllers becomes one device, bound by controller prefix. Every reference is checked against the model
here, so the bridge never meets an unknown controller at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from relevent.config import DeviceEntry
from relevent.errors import ConfigError
from relevent.lan.driver import COMMAND_FIELDS, CommandField
from relevent.refs import full_ref
from relevent.scl.model import LogicalNode, SclDocument
from relevent.scl.units import si_factor

# Which controller output DO each command field needs: power from an MV, on/off from an SPS.
_FIELD_OUTPUT_DO: Mapping[CommandField, str] = {"w_set": "ValMV", "w_max_lim": "ValMV", "on": "ValSPS"}
# The reference model's function prefixes, for devices derived from the model alone.
_PREFIX_FIELDS: Mapping[str, CommandField] = {"ActPow_": "w_set", "MaxPow_": "w_max_lim", "OnOff_": "on"}


@dataclass(frozen=True)
class Device:
    """One local device: bindings (field -> full FSCC reference), clamp limits in W, its driver's protocol."""

    id: str
    device_class: str | None
    bindings: Mapping[CommandField, str]
    w_min: float | None = None
    w_max: float | None = None
    mmxu_ref: str | None = None
    scales: Mapping[CommandField, float] = field(default_factory=dict)  # controller units -> W
    protocol: str = "mqtt"

    def scale(self, name: CommandField) -> float:
        """The factor from the bound controller's output units to the command field's (W)."""
        return self.scales.get(name, 1.0)


@dataclass(frozen=True)
class DeviceRegistry:
    """The devices by id, and the (device, field) pairs that follow each controller."""

    devices: Mapping[str, Device]
    _followers: Mapping[str, tuple[tuple[Device, CommandField], ...]] = field(repr=False)

    @classmethod
    def of(cls, devices: Sequence[Device]) -> DeviceRegistry:
        """Index `devices`; ids must be unique."""
        by_id: dict[str, Device] = {}
        followers: dict[str, list[tuple[Device, CommandField]]] = {}
        for device in devices:
            if device.id in by_id:
                raise ConfigError(f"device id {device.id!r} is configured twice")
            by_id[device.id] = device
            for name, ref in device.bindings.items():
                followers.setdefault(ref, []).append((device, name))
        return cls(by_id, {ref: tuple(pairs) for ref, pairs in followers.items()})

    def __iter__(self) -> Iterator[Device]:
        return iter(self.devices.values())

    def __len__(self) -> int:
        return len(self.devices)

    def of_protocol(self, protocol: str) -> DeviceRegistry:
        """The devices that `protocol`'s driver serves."""
        return DeviceRegistry.of([device for device in self if device.protocol == protocol])

    def get(self, device_id: str) -> Device | None:
        """The device called `device_id`, or None."""
        return self.devices.get(device_id)

    def followers(self, controller_ref: str) -> tuple[tuple[Device, CommandField], ...]:
        """Every (device, field) bound to the controller."""
        return self._followers.get(controller_ref, ())

    @property
    def controllers(self) -> tuple[str, ...]:
        """Every controller some device follows, in first-binding order."""
        return tuple(self._followers)


def build_registry(doc: SclDocument, entries: Sequence[DeviceEntry]) -> DeviceRegistry:
    """Devices from `entries`, or one per controller-holding LD when there are none."""
    if not entries:
        return DeviceRegistry.of(list(_devices_from_model(doc)))
    model = _ModelIndex(doc)
    problems: list[str] = []
    devices = []
    for entry in entries:
        bindings: dict[CommandField, str] = {}
        for name in COMMAND_FIELDS:
            ref = getattr(entry, name)
            if ref is None:
                continue
            resolved, problem = model.controller(ref, _FIELD_OUTPUT_DO[name])
            if problem:
                problems.append(f"device {entry.id!r} {name}: {problem}")
            else:
                bindings[name] = resolved
        mmxu_ref = None
        if entry.mmxu is not None:
            mmxu_ref, problem = model.measurement(entry.mmxu)
            if problem:
                problems.append(f"device {entry.id!r} mmxu: {problem}")
        if entry.w_min is not None and entry.w_max is not None and entry.w_min > entry.w_max:
            problems.append(f"device {entry.id!r}: w_min {entry.w_min} is above w_max {entry.w_max}")
        devices.append(
            Device(entry.id, entry.device_class, bindings, entry.w_min, entry.w_max, mmxu_ref,
                   model.scales(bindings), entry.protocol)
        )
    if problems:
        raise ConfigError("invalid device bindings: " + "; ".join(problems))
    return DeviceRegistry.of(devices)


def _devices_from_model(doc: SclDocument) -> Iterator[Device]:
    for ied in doc.ieds:
        for ld in ied.ldevices:
            bindings: dict[CommandField, str] = {}
            for ln in sorted((ln for ln in ld.lns if ln.ln_class == "FSCC"), key=lambda ln: ln.name):
                name = _PREFIX_FIELDS.get(ln.prefix)
                if name is not None and name not in bindings and _has_output(ln, _FIELD_OUTPUT_DO[name]):
                    bindings[name] = f"{ld.name}/{ln.name}"
            if bindings:
                mmxu = next((ln for ln in ld.lns if ln.ln_class == "MMXU"), None)
                mmxu_ref = f"{ld.name}/{mmxu.name}" if mmxu else None
                scales = _scales(ld.lns, ld.name, bindings)
                yield Device(ld.name, None, bindings, mmxu_ref=mmxu_ref, scales=scales)


def _scales(
    lns: Iterable[LogicalNode], ld_name: str, bindings: Mapping[CommandField, str]
) -> dict[CommandField, float]:
    by_ref = {f"{ld_name}/{ln.name}": ln for ln in lns}
    return {name: si_factor(by_ref[ref], _FIELD_OUTPUT_DO[name]) for name, ref in bindings.items()}


def _has_output(ln: LogicalNode, do_name: str) -> bool:
    return ln.type.data_object(do_name) is not None


class _ModelIndex:
    """Logical nodes by full reference, to check configured references."""

    def __init__(self, doc: SclDocument) -> None:
        self._ied_names = [ied.name for ied in doc.ieds]
        self._lns = {f"{ld.name}/{ln.name}": ln for _, ld, ln in doc.logical_nodes()}

    def _lookup(self, ref: str, ln_class: str) -> tuple[str, LogicalNode | None, str | None]:
        candidates = {full_ref(ref, ied) for ied in self._ied_names} if ref.strip().startswith("@") else {ref}
        found = [(c, self._lns[c]) for c in sorted(candidates) if c in self._lns]
        if len(found) > 1:
            return ref, None, f"{ref!r} is ambiguous: {', '.join(c for c, _ in found)}"
        if not found:
            return ref, None, f"{ref!r} names no logical node of the model"
        resolved, ln = found[0]
        if ln.ln_class != ln_class:
            return ref, None, f"{ref!r} is of class {ln.ln_class}, expected {ln_class}"
        return resolved, ln, None

    def controller(self, ref: str, output_do: str) -> tuple[str, str | None]:
        """The full reference of an FSCC with the output DO the field needs, or a problem."""
        resolved, ln, problem = self._lookup(ref, "FSCC")
        if ln is not None and not _has_output(ln, output_do):
            problem = f"{ref!r} has no {output_do} output"
        return resolved, problem

    def scales(self, bindings: Mapping[CommandField, str]) -> dict[CommandField, float]:
        """The unit factor of each bound (already checked) controller's output."""
        return {name: si_factor(self._lns[ref], _FIELD_OUTPUT_DO[name]) for name, ref in bindings.items()}

    def measurement(self, ref: str) -> tuple[str, str | None]:
        """The full reference of an MMXU, or a problem."""
        resolved, _, problem = self._lookup(ref, "MMXU")
        return resolved, problem
