"""IEC 61850 object references in the two forms SCL files use.

`@Control/ActPow_FSCH01` names an object of the same IED (no IED name); `DER_Scheduler_Control/ActPow_FSCH01`
is the full form (IED name + LD inst). Both are accepted everywhere, the full form is published.
"""

from __future__ import annotations


def full_ref(ref: str, ied_name: str) -> str:
    """Return `ref` in the full form: `@LD/LN.DO` becomes `<ied_name>LD/LN.DO`; full refs pass unchanged."""
    ref = ref.strip()
    if ref.startswith("@"):
        return ied_name + ref[1:]
    return ref


def split_ref(ref: str) -> tuple[str, str, tuple[str, ...]]:
    """Split a full reference `LD/LN.DO.DA` into (LD, LN, ("DO", "DA")); raise ValueError when malformed."""
    ld, sep, rest = ref.partition("/")
    if not sep or not ld or not rest:
        raise ValueError(f"not an object reference: {ref!r}")
    ln, *path = rest.split(".")
    if not ln or any(not part for part in path):
        raise ValueError(f"not an object reference: {ref!r}")
    return ld, ln, tuple(path)
