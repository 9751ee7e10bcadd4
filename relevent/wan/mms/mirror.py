"""Mirror values into the served model: value, quality and timestamp of a data attribute, type-checked.

libiec61850 stores whatever it is given (a float written into an INT32 attribute silently becomes 0), so
every update is checked against the attribute's type first. `q` and `t` are set before the value: the value
change is the trigger, and the report it produces then carries the matching quality and time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from relevent.wan.mms import mms_value
from relevent.wan.mms.builder import BuiltModel
from relevent.wan.mms.lib import iec, lib
from relevent.wan.mms.mms_value import Scalar

_QUALITY_GOOD = iec.QUALITY_VALIDITY_GOOD
_QUALITY_INVALID = iec.QUALITY_VALIDITY_INVALID

# Direct setters for the common types (no MmsValue allocation); the rest go through `mms_value.encode`.
_SETTERS: dict[int, Callable[[int, int, Scalar], None]] = {
    iec.IEC61850_FLOAT32: lib.IedServer_updateFloatAttributeValue,
    iec.IEC61850_BOOLEAN: lib.IedServer_updateBooleanAttributeValue,
    iec.IEC61850_INT8: lib.IedServer_updateInt32AttributeValue,
    iec.IEC61850_INT16: lib.IedServer_updateInt32AttributeValue,
    iec.IEC61850_INT32: lib.IedServer_updateInt32AttributeValue,
    iec.IEC61850_ENUMERATED: lib.IedServer_updateInt32AttributeValue,
    iec.IEC61850_INT64: lib.IedServer_updateInt64AttributeValue,
    iec.IEC61850_INT8U: lib.IedServer_updateUnsignedAttributeValue,
    iec.IEC61850_INT16U: lib.IedServer_updateUnsignedAttributeValue,
    iec.IEC61850_INT24U: lib.IedServer_updateUnsignedAttributeValue,
    iec.IEC61850_INT32U: lib.IedServer_updateUnsignedAttributeValue,
    iec.IEC61850_QUALITY: lib.IedServer_updateQuality,
}


@dataclass(frozen=True, slots=True)
class _Target:
    da: int
    da_type: int
    q: int | None  # the enclosing data object's q and t, when it has them
    t: int | None
    reported: bool  # in a data set: updated through libiec61850 so that reports see the change


@dataclass(frozen=True, slots=True)
class Update:
    """One mirrored sample: the new value of a leaf attribute, its quality and its time."""

    ref: str
    value: Scalar
    quality_good: bool
    timestamp: datetime


class ModelMirror:
    """Updates the values of a running server's model; call it on the thread that drives the server."""

    def __init__(self, server: int, model: BuiltModel) -> None:
        self._server = server
        self._model = model
        self._targets: dict[str, _Target] = {}  # filled on first use: refs the scheduler actually mirrors

    def update(self, ref: str, value: Scalar, quality_good: bool, timestamp: datetime) -> None:
        """Set the value of the leaf attribute `ref` and the q and t of its data object.

        Raises KeyError for an unknown reference, TypeError/ValueError for a value that does not fit; the
        model is then unchanged.
        """
        self._apply(self._checked(ref, value, timestamp), value, quality_good, timestamp)

    def preload(self, ref: str, value: Scalar, quality_good: bool, timestamp: datetime) -> None:
        """`update` before the server has served anybody: the value in place, its target not cached.

        No client can have enabled a report block yet, so nobody needs telling (each `IedServer_update*`
        scans every report block's data set: quadratic in the site size at start-up).
        """
        target = self._checked(ref, value, timestamp, cache=False)
        if target.da_type in _DIRECT:
            self._set_directly(target, value, quality_good, timestamp)
        else:
            self._apply(target, value, quality_good, timestamp)

    def _checked(self, ref: str, value: Scalar, timestamp: datetime, *, cache: bool = True) -> _Target:
        target = self._targets.get(ref)
        if target is None:
            target = self._resolve(ref)
            if cache:
                self._targets[ref] = target
        mms_value.check(value, target.da_type)
        if timestamp.tzinfo is None:
            raise ValueError(f"{ref}: timestamps must be timezone-aware")
        return target

    def _apply(self, target: _Target, value: Scalar, quality_good: bool, timestamp: datetime) -> None:
        if not target.reported and target.da_type in _DIRECT:
            self._set_directly(target, value, quality_good, timestamp)
            return
        if target.t is not None:
            lib.IedServer_updateUTCTimeAttributeValue(self._server, target.t, mms_value.to_ms(timestamp))
        if target.q is not None:
            quality = _QUALITY_GOOD if quality_good else _QUALITY_INVALID
            lib.IedServer_updateQuality(self._server, target.q, quality)
        self._set(target, value)

    def _set_directly(
        self, target: _Target, value: Scalar, quality_good: bool, timestamp: datetime
    ) -> None:
        """Write the library's values in place, for an attribute no data set observes.

        Every `IedServer_update*` scans every report block's data set for the attribute, which dominates
        the boundaries of large sites; nothing needs to be told of this change.
        """
        current = partial(lib.IedServer_getAttributeValue, self._server)
        if target.t is not None:
            lib.MmsValue_setUtcTimeMs(current(target.t), mms_value.to_ms(timestamp))
        if target.q is not None:
            quality = _QUALITY_GOOD if quality_good else _QUALITY_INVALID
            lib.MmsValue_setBitStringFromInteger(current(target.q), quality)
        _DIRECT[target.da_type](current(target.da), value)

    def _set(self, target: _Target, value: Scalar) -> None:
        setter = _SETTERS.get(target.da_type)
        if setter is not None:
            setter(self._server, target.da, value)
        elif target.da_type == iec.IEC61850_TIMESTAMP:
            stamp = mms_value.to_ms(value)  # type: ignore[arg-type]  # checked to be a datetime
            lib.IedServer_updateUTCTimeAttributeValue(self._server, target.da, stamp)
        elif target.da_type in _VISIBLE_STRINGS:
            text = str(value).encode("ascii", "replace")
            lib.IedServer_updateVisibleStringAttributeValue(self._server, target.da, text)
        else:
            mms = mms_value.encode(value, target.da_type)
            try:
                lib.IedServer_updateAttributeValue(self._server, target.da, mms)
            finally:
                lib.MmsValue_delete(mms)

    def _resolve(self, ref: str) -> _Target:
        da = self._model.node(ref)
        if (lib.ModelNode_getType(da) != iec.DataAttributeModelType
                or lib.DataAttribute_getType(da) == iec.IEC61850_CONSTRUCTED):
            raise KeyError(f"{ref} is not a leaf data attribute")
        data_object = lib.ModelNode_getParent(da)
        while data_object and lib.ModelNode_getType(data_object) != iec.DataObjectModelType:
            data_object = lib.ModelNode_getParent(data_object)
        q = lib.ModelNode_getChild(data_object, b"q") if data_object else None
        t = lib.ModelNode_getChild(data_object, b"t") if data_object else None
        return _Target(
            da=da, da_type=lib.DataAttribute_getType(da), q=q or None, t=t or None,
            reported=self._model.is_reported(self._model.full_ref(ref)),
        )


_VISIBLE_STRINGS = frozenset({
    iec.IEC61850_VISIBLE_STRING_32, iec.IEC61850_VISIBLE_STRING_64, iec.IEC61850_VISIBLE_STRING_65,
    iec.IEC61850_VISIBLE_STRING_129, iec.IEC61850_VISIBLE_STRING_255,
})
# In-place setters of the types the scheduler mirrors most (values were type-checked before).
_DIRECT: dict[int, Callable[[int, Scalar], None]] = {
    iec.IEC61850_FLOAT32: lib.MmsValue_setFloat,
    iec.IEC61850_BOOLEAN: lib.MmsValue_setBoolean,
    iec.IEC61850_INT32: lib.MmsValue_setInt32,
    iec.IEC61850_ENUMERATED: lib.MmsValue_setInt32,
    iec.IEC61850_TIMESTAMP: lambda mms, stamp: lib.MmsValue_setUtcTimeMs(mms, mms_value.to_ms(stamp)),  # type: ignore[arg-type]
    **dict.fromkeys(
        _VISIBLE_STRINGS,
        lambda mms, text: lib.MmsValue_setVisibleString(mms, str(text).encode("ascii", "replace")),
    ),
}
