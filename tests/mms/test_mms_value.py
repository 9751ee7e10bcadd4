"""Python <-> MmsValue conversion and its type checks (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relevent.wan.mms import mms_value
from relevent.wan.mms.lib import iec, lib


@pytest.mark.parametrize(
    ("value", "da_type"),
    [
        (True, iec.IEC61850_BOOLEAN),
        (-5, iec.IEC61850_INT32),
        (2**40, iec.IEC61850_INT64),
        (4_000_000_000, iec.IEC61850_INT32U),
        (3, iec.IEC61850_ENUMERATED),
        (1.5, iec.IEC61850_FLOAT32),
        (1e300, iec.IEC61850_FLOAT64),
        ("@Control/ActPow_FSCH01", iec.IEC61850_VISIBLE_STRING_129),
        ("Grüße", iec.IEC61850_UNICODE_STRING_255),
        (b"\x01\x02", iec.IEC61850_OCTET_STRING_64),
        (datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), iec.IEC61850_TIMESTAMP),
        (0b10, iec.IEC61850_CHECK),
    ],
)
def test_encoded_values_decode_to_themselves(value: mms_value.Scalar, da_type: int) -> None:
    mms = mms_value.encode(value, da_type)
    try:
        assert mms_value.decode(mms) == value
    finally:
        lib.MmsValue_delete(mms)


@pytest.mark.parametrize(
    ("value", "da_type", "error"),
    [
        (1, iec.IEC61850_BOOLEAN, TypeError),
        (True, iec.IEC61850_INT32, TypeError),
        (2**31, iec.IEC61850_INT32, ValueError),
        (-1, iec.IEC61850_INT16U, ValueError),
        (128, iec.IEC61850_ENUMERATED, ValueError),
        ("1.5", iec.IEC61850_FLOAT32, TypeError),
        ("x" * 130, iec.IEC61850_VISIBLE_STRING_129, ValueError),
        (datetime(2026, 1, 1), iec.IEC61850_TIMESTAMP, ValueError),  # noqa: DTZ001 - naive on purpose
        (datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC), iec.IEC61850_TIMESTAMP, ValueError),  # wraps to 1970
        (datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), iec.IEC61850_TIMESTAMP, ValueError),
        (1, iec.IEC61850_ENTRY_TIME, TypeError),  # no Python mapping
    ],
)
def test_values_that_do_not_fit_are_refused_before_reaching_c(
    value: object, da_type: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        mms_value.check(value, da_type)


@pytest.mark.parametrize(("raw", "expected"), [
    (1.0399999618530273, 1.04), (0.10000000149011612, 0.1), (3000.0, 3000.0), (-2.5, -2.5),
    (1.0000000000000002, 1.0000000000000002),  # no float32: left as it is
])  # fmt: skip
def test_float32_values_read_back_as_the_decimal_the_client_wrote(raw: float, expected: float) -> None:
    assert mms_value.shortest_float32(raw) == expected
