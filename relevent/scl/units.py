"""Unit scaling of data objects: the factor from a DO's values to SI units (`units.multiplier`)."""

from __future__ import annotations

from relevent.scl.model import LogicalNode


def si_factor(ln: LogicalNode, do_name: str) -> float:
    """10**multiplier of the DO's `units` (k -> 1000); 1.0 when it declares none.

    The reference model's power outputs are in kW; devices speak W, so every power crossing between the
    model and the devices goes through this factor.
    """
    multiplier = ln.initial(f"{do_name}.units.multiplier")
    if isinstance(multiplier, bool) or not isinstance(multiplier, int):
        return 1.0
    return float(10**multiplier)
