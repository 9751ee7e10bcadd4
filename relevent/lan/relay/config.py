"""The options of one Modbus relay board (`[devices.relay]`) and its contact table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

# SG-Ready's operating states as contacts (A, B): 1 blocked, 2 normal, 3 recommended on, 4 forced on.
SG_READY_CONTACTS: dict[int, tuple[bool, bool]] = {
    1: (True, False),
    2: (False, False),
    3: (False, True),
    4: (True, True),
}


class CurtailmentStep(BaseModel):
    """One step of a curtailment relay: at most `pct` % of the rating, with `coils` (of `step_coils`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pct: float = Field(ge=0, le=100)
    coils: tuple[bool, ...]


class RelayOptions(BaseModel):
    """Where the board is and which coil carries which function; coils are Modbus coil addresses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=255)
    poll_s: float = Field(2.0, gt=0)  # coils read back: a board that stops answering is unreachable
    timeout_s: float = Field(1.0, gt=0)
    # `on`: the contact closed while on (e.g. a heat pump's or a load's release contact).
    on_coil: int | None = Field(None, ge=0, le=65535)
    # `w_max_lim`: curtailment steps (e.g. the German 0/30/60/100 % of the rating over two contacts);
    # the step at or below the limit is switched.
    rating_w: float | None = Field(None, gt=0)
    step_coils: tuple[int, ...] = ()
    steps: tuple[CurtailmentStep, ...] = ()
    # SG-Ready (contacts A, B): `on = false` blocks (1); consumption (-w_set) at or above these W
    # recommends (3) or forces (4) operation; else normal (2).
    sg_ready_coils: tuple[int, int] | None = None
    sg_recommended_w: float = Field(1.0, gt=0)
    sg_forced_w: float | None = Field(None, gt=0)
    # Contacts set when the gateway shuts down (coil -> closed); unset coils keep their state.
    shutdown_coils: dict[int, bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _a_consistent_table(self) -> RelayOptions:
        if self.steps and (self.rating_w is None or not self.step_coils):
            raise ValueError("curtailment steps need rating_w and step_coils")
        if any(len(step.coils) != len(self.step_coils) for step in self.steps):
            raise ValueError(f"every step names {len(self.step_coils)} coils, one per step_coils entry")
        used = [*([self.on_coil] if self.on_coil is not None else []), *self.step_coils,
                *(self.sg_ready_coils or ())]  # fmt: skip
        if len(used) != len(set(used)):
            raise ValueError(f"a coil carries two functions: {sorted(used)}")
        if self.sg_forced_w is not None and self.sg_forced_w < self.sg_recommended_w:
            raise ValueError("sg_forced_w is below sg_recommended_w")
        return self

    @property
    def coils(self) -> tuple[int, ...]:
        """Every coil the table drives, in address order."""
        used = {*self.step_coils, *(self.sg_ready_coils or ())}
        if self.on_coil is not None:
            used.add(self.on_coil)
        return tuple(sorted(used))

    def carries(self) -> set[str]:
        """The command fields the table maps."""
        fields = set()
        if self.steps:
            fields.add("w_max_lim")
        if self.sg_ready_coils is not None:
            fields |= {"w_set", "on"}
        if self.on_coil is not None:
            fields.add("on")
        return fields
