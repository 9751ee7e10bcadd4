"""IEC 61850 enumerations as the scheduler uses them: one table per kind, each ordinal with its SCL literal.

The default-model generator writes its `EnumType`s from these tables, so the model and the scheduler
cannot disagree on an ordinal.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class SclEnum(IntEnum):
    """An enumeration whose members are declared as `NAME = ordinal, "EnumVal literal"`."""

    literal: str  # the `EnumVal` text of the member in SCL

    def __new__(cls, ordinal: int, literal: str = "") -> Self:
        """Make one member (when the class is made); `Kind(ordinal)` looks a member up, never comes here.

        `literal` has a default for the type checker only, which takes this signature for the lookup's.
        """
        member = int.__new__(cls, ordinal)
        member._value_ = ordinal
        member.literal = literal
        return member
