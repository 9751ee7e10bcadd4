"""The options of one SunSpec inverter (`[devices.sunspec]`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SunSpecOptions(BaseModel):
    """Where the inverter is and how it behaves; the quirks are per device because firmware differs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=255)  # SMA answers SunSpec on 126, Fronius' inverter on 1
    poll_s: float = Field(2.0, gt=0)  # measured W and status
    timeout_s: float = Field(1.0, gt=0)  # every request
    base: int | None = Field(
        None, ge=0, le=65534
    )  # the "SunS" marker's register; None: probe 40000, 0, 50000
    single_register_writes: bool = False  # FC06 per register (devices that refuse FC16 on controls)
    wmax_w: float | None = Field(None, gt=0)  # the W that 100 % means, where firmware disagrees with WMax
