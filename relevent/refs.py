"""IEC 61850 object references in the two forms SCL files use, and their parts.

`@Control/ActPow_FSCH01` names an object of the same IED (no IED name); `DER_Scheduler_Control/ActPow_FSCH01`
is the full form (IED name + LD inst). Both are accepted everywhere, the full form is published.

A reference `LD/LN.DO.DA` has an LD part before the `/`, then the LN and the dotted path of data objects
and attributes below it; `LD/LN` is the owner of every attribute under it. MMS spells the same object
`LN$FC$DO$DA` inside its domain `LD`. Every split of a reference goes through the helpers here; they are
plain string operations (no validation) because some run for every leaf of the model at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator


def full_ref(ref: str, ied_name: str) -> str:
    """Return `ref` in the full form: `@LD/LN.DO` becomes `<ied_name>LD/LN.DO`; full refs pass unchanged."""
    ref = ref.strip()
    if ref.startswith("@"):
        return ied_name + ref[1:]
    return ref


def split_ld(ref: str) -> tuple[str, str]:
    """`LD/LN.DO` -> (`LD`, `LN.DO`); a reference without an LD part gives ("", ref)."""
    ld, _, rest = ref.rpartition("/")
    return ld, rest


def without_ld(ref: str) -> str:
    """`LD/LN.DO` -> `LN.DO` (what a person reads); a reference without an LD part is returned as is."""
    return split_ld(ref)[1]


def split_owner(ref: str) -> tuple[str, str]:
    """`LD/LN.DO.DA` -> (`LD/LN`, `DO.DA`): the LN owning the attribute, its path there ("" for an LN)."""
    owner, _, path = ref.partition(".")
    return owner, path


def owner_of(ref: str) -> str:
    """`LD/LN.DO.DA` -> `LD/LN`, the logical node the object or attribute belongs to."""
    return split_owner(ref)[0]


def split_last(ref: str) -> tuple[str, str]:
    """`LD/LN.DO.DA` -> (`LD/LN.DO`, `DA`): the enclosing object and the last name (`LD/LN`: "", `LD/LN`)."""
    parent, _, name = ref.rpartition(".")
    return parent, name


def lineage(ref: str) -> Iterator[str]:
    """`LD/LN.DO.DA` -> `LD/LN`, `LD/LN.DO`, `LD/LN.DO.DA`: the owner and every object down to `ref`."""
    end = ref.find(".")
    while end != -1:
        yield ref[:end]
        end = ref.find(".", end + 1)
    yield ref


def from_mms(name: str) -> str:
    """An MMS variable `[LD/]LN$FC$DO$DA` as the reference `[LD/]LN.DO.DA` (the FC dropped)."""
    owner, _, rest = name.partition("$")
    path = rest.partition("$")[2].replace("$", ".")
    return f"{owner}.{path}" if path else owner
