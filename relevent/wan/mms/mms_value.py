"""Python values <-> libiec61850 `MmsValue`s, by the attribute's `DataAttributeType`.

Ownership: `encode` returns a new MmsValue that the caller must `MmsValue_delete`; `decode` only reads
values the library owns (handler arguments, the model's cache) and never deletes them.
libiec61850 does not check types when a value is stored (its asserts are compiled out), so `check`
does it here, before anything reaches C.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from relevent.timerange import checked_seconds
from relevent.wan.mms.lib import iec, lib

Scalar: TypeAlias = bool | int | float | str | bytes | datetime
Decoded: TypeAlias = Scalar | tuple["Decoded", ...]


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a DataAttributeType accepts: a Python type, and a range or a length."""

    python: type
    low: int = 0
    high: int = 0
    length: int = 0  # strings and octet strings: maximum length; bit strings: number of bits


def _signed(bits: int) -> _Kind:
    return _Kind(int, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _unsigned(bits: int) -> _Kind:
    return _Kind(int, 0, 2**bits - 1)


_KINDS: dict[int, _Kind] = {
    iec.IEC61850_BOOLEAN: _Kind(bool),
    iec.IEC61850_INT8: _signed(8),
    iec.IEC61850_INT16: _signed(16),
    iec.IEC61850_INT32: _signed(32),
    iec.IEC61850_INT64: _signed(64),
    iec.IEC61850_INT8U: _unsigned(8),
    iec.IEC61850_INT16U: _unsigned(16),
    iec.IEC61850_INT24U: _unsigned(24),
    iec.IEC61850_INT32U: _unsigned(32),
    iec.IEC61850_ENUMERATED: _signed(8),
    iec.IEC61850_FLOAT32: _Kind(float),
    iec.IEC61850_FLOAT64: _Kind(float),
    iec.IEC61850_VISIBLE_STRING_32: _Kind(str, length=32),
    iec.IEC61850_VISIBLE_STRING_64: _Kind(str, length=64),
    iec.IEC61850_VISIBLE_STRING_65: _Kind(str, length=65),
    iec.IEC61850_VISIBLE_STRING_129: _Kind(str, length=129),
    iec.IEC61850_VISIBLE_STRING_255: _Kind(str, length=255),
    iec.IEC61850_UNICODE_STRING_255: _Kind(str, length=255),
    iec.IEC61850_OCTET_STRING_6: _Kind(bytes, length=6),
    iec.IEC61850_OCTET_STRING_8: _Kind(bytes, length=8),
    iec.IEC61850_OCTET_STRING_64: _Kind(bytes, length=64),
    iec.IEC61850_TIMESTAMP: _Kind(datetime),
    # bit strings carry their bits as an unsigned integer
    iec.IEC61850_QUALITY: _Kind(int, 0, 2**13 - 1, length=13),
    iec.IEC61850_CHECK: _Kind(int, 0, 3, length=2),
    iec.IEC61850_CODEDENUM: _Kind(int, 0, 3, length=2),
}


def check(value: object, da_type: int) -> None:
    """Raise TypeError or ValueError unless `value` fits an attribute of `da_type`."""
    kind = _KINDS.get(da_type)
    if kind is None:
        raise TypeError(f"attribute type {da_type} has no Python value mapping")
    if kind.python is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return
    # bool is an int in Python: refuse it where an integer is meant, and vice versa
    if not isinstance(value, kind.python) or (kind.python is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.python.__name__}, got {type(value).__name__}")
    if kind.python is int and not kind.low <= value <= kind.high:  # type: ignore[operator]
        raise ValueError(f"{value} is outside [{kind.low}, {kind.high}]")
    if kind.python in {str, bytes} and len(value) > kind.length:  # type: ignore[arg-type]
        raise ValueError(f"longer than {kind.length}")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        checked_seconds(value)  # a UtcTime holds no other: libiec61850 would wrap it silently


def to_ms(stamp: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return round(stamp.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _bits(size: int) -> Callable[[Scalar], int]:
    def new(value: Scalar) -> int:
        mms: int = lib.MmsValue_newBitString(size)
        lib.MmsValue_setBitStringFromInteger(mms, value)
        return mms

    return new


def _octets(size: int) -> Callable[[Scalar], int]:
    def new(value: Scalar) -> int:
        data = bytes(value)  # type: ignore[arg-type]
        mms: int = lib.MmsValue_newOctetString(len(data), size)
        lib.MmsValue_setOctetString(mms, data, len(data))
        return mms

    return new


def _visible(value: Scalar) -> int:
    return int(lib.MmsValue_newVisibleString(str(value).encode("ascii", "replace")))


_NEW: dict[int, Callable[[Scalar], int]] = {
    iec.IEC61850_BOOLEAN: lib.MmsValue_newBoolean,
    iec.IEC61850_INT8: lib.MmsValue_newIntegerFromInt32,
    iec.IEC61850_INT16: lib.MmsValue_newIntegerFromInt32,
    iec.IEC61850_INT32: lib.MmsValue_newIntegerFromInt32,
    iec.IEC61850_ENUMERATED: lib.MmsValue_newIntegerFromInt32,
    iec.IEC61850_INT64: lib.MmsValue_newIntegerFromInt64,
    iec.IEC61850_INT8U: lib.MmsValue_newUnsignedFromUint32,
    iec.IEC61850_INT16U: lib.MmsValue_newUnsignedFromUint32,
    iec.IEC61850_INT24U: lib.MmsValue_newUnsignedFromUint32,
    iec.IEC61850_INT32U: lib.MmsValue_newUnsignedFromUint32,
    iec.IEC61850_FLOAT32: lib.MmsValue_newFloat,
    iec.IEC61850_FLOAT64: lib.MmsValue_newDouble,
    iec.IEC61850_VISIBLE_STRING_32: _visible,
    iec.IEC61850_VISIBLE_STRING_64: _visible,
    iec.IEC61850_VISIBLE_STRING_65: _visible,
    iec.IEC61850_VISIBLE_STRING_129: _visible,
    iec.IEC61850_VISIBLE_STRING_255: _visible,
    iec.IEC61850_UNICODE_STRING_255: lambda v: int(lib.MmsValue_newMmsString(str(v).encode())),
    iec.IEC61850_OCTET_STRING_6: _octets(6),
    iec.IEC61850_OCTET_STRING_8: _octets(8),
    iec.IEC61850_OCTET_STRING_64: _octets(64),
    iec.IEC61850_TIMESTAMP: lambda v: int(lib.MmsValue_newUtcTimeByMsTime(to_ms(v))),  # type: ignore[arg-type]
    iec.IEC61850_QUALITY: _bits(13),
    iec.IEC61850_CHECK: _bits(2),
    iec.IEC61850_CODEDENUM: _bits(2),
}


def encode(value: Scalar, da_type: int) -> int:
    """A new MmsValue holding `value` for an attribute of `da_type`; the caller must delete it."""
    check(value, da_type)
    return int(_NEW[da_type](value))


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32: a client's 1.04 arrives as 1.0399999618530273.

    Values that are no float32 (a FLOAT64 write) come back unchanged.
    """
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == value:
            return candidate
    return value


def _octet_string(mms: int) -> bytes:
    return bytes(lib.MmsValue_getOctetStringBuffer(mms)[: lib.MmsValue_getOctetStringSize(mms)])


def _integer(mms: int, *, signed: bool) -> int:
    """The exact value of an MMS Integer or Unsigned, however many octets the client sent.

    libiec61850 keeps a written integer at the length it arrived with (2^64 + 200 in 9 octets) and its
    `toInt64`/`toUint32` keep only the low octets: a value that does not fit must stay too large to be
    refused, so the octets are read from the value's own encoding.
    """
    # The last argument: False measures the encoding (tag, a one-octet length, the octets), True writes it.
    size = lib.MmsValue_encodeMmsData(mms, None, 0, False)  # noqa: FBT003
    encoded = ctypes.create_string_buffer(size + 4)  # room for a long-form length beyond 127 octets
    end = lib.MmsValue_encodeMmsData(mms, encoded, 0, True)  # noqa: FBT003
    return int.from_bytes(encoded.raw[end - (size - 2) : end], "big", signed=signed)


def _elements(mms: int) -> tuple[Decoded, ...]:
    return tuple(decode(lib.MmsValue_getElement(mms, i)) for i in range(lib.MmsValue_getArraySize(mms)))


_DECODERS: dict[int, Callable[[int], Decoded]] = {
    iec.MMS_BOOLEAN: lambda m: bool(lib.MmsValue_getBoolean(m)),
    iec.MMS_INTEGER: lambda m: _integer(m, signed=True),
    iec.MMS_UNSIGNED: lambda m: _integer(m, signed=False),
    iec.MMS_FLOAT: lambda m: shortest_float32(float(lib.MmsValue_toDouble(m))),
    iec.MMS_VISIBLE_STRING: lambda m: (lib.MmsValue_toString(m) or b"").decode("ascii", "replace"),
    iec.MMS_STRING: lambda m: (lib.MmsValue_toString(m) or b"").decode("utf-8", "replace"),
    iec.MMS_UTC_TIME: lambda m: from_ms(lib.MmsValue_getUtcTimeInMs(m)),
    iec.MMS_BIT_STRING: lambda m: int(lib.MmsValue_getBitStringAsInteger(m)),
    iec.MMS_OCTET_STRING: _octet_string,
    iec.MMS_STRUCTURE: _elements,
    iec.MMS_ARRAY: _elements,
}


def decode(mms: int) -> Decoded:
    """The Python value of an MmsValue the library owns (structures and arrays become tuples)."""
    decoder = _DECODERS.get(lib.MmsValue_getType(mms))
    if decoder is None:
        raise TypeError(f"MMS type {lib.MmsValue_getType(mms)} has no Python value mapping")
    return decoder(mms)
