"""libiec61850 for the MMS adapter: the SWIG module for its constants, the same shared library through ctypes.

Every call into the library goes through ctypes, declared here once, because ctypes releases the GIL during
a call, returns plain pointers (no SWIG proxy per node, which matters when building ~10^5 nodes), and is
the only way to hand Python callbacks to libiec61850 (SWIG rejects Python callables). Loading the SWIG
module first maps the bundled library; `ctypes.CDLL` on that very path returns the same mapped instance,
so both views share one library state.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pyiec61850.pyiec61850 as iec

P = ctypes.c_void_p
_STR = ctypes.c_char_p
_INT = ctypes.c_int
_BOOL = ctypes.c_bool
_U8 = ctypes.c_uint8
_U16 = ctypes.c_uint16
_U32 = ctypes.c_uint32
_U64 = ctypes.c_uint64

# MmsDataAccessError (*)(DataAttribute*, MmsValue*, ClientConnection, void* parameter)
WriteAccessHandler = ctypes.CFUNCTYPE(_INT, P, P, P, P)
# CheckHandlerResult (*)(ControlAction, void* parameter, MmsValue* ctlVal, bool test, bool interlockCheck)
ControlCheckHandler = ctypes.CFUNCTYPE(_INT, P, P, P, _BOOL, _BOOL)
# ControlHandlerResult (*)(ControlAction, void* parameter, MmsValue* ctlVal, bool test)
ControlHandler = ctypes.CFUNCTYPE(_INT, P, P, P, _BOOL)


class AuthParameter(ctypes.Structure):
    """`struct sAcseAuthenticationParameter`: a mechanism, then the password or the certificate.

    The C union's two members have the same shape (buffer, length), so one pair of fields reads either.
    """

    _fields_ = (("mechanism", _INT), ("buf", ctypes.POINTER(_U8)), ("length", _INT))


# void (*)(IedServer, ClientConnection, bool connected, void* parameter)
ConnectionIndicationHandler = ctypes.CFUNCTYPE(None, P, P, _BOOL, P)

# bool (*)(void* parameter, AcseAuthenticationParameter, void** securityToken, IsoApplicationReference*)
AcseAuthenticator = ctypes.CFUNCTYPE(_BOOL, P, ctypes.POINTER(AuthParameter), ctypes.POINTER(P), P)

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    # model building
    "IedModel_create": (P, [_STR]),
    "IedModel_destroy": (None, [P]),
    "IedModel_getModelNodeByObjectReference": (P, [P, _STR]),
    "LogicalDevice_create": (P, [_STR, P]),
    "LogicalDevice_createEx": (P, [_STR, P, _STR]),
    "LogicalNode_create": (P, [_STR, P]),
    "DataObject_create": (P, [_STR, P, _INT]),
    "DataAttribute_create": (P, [_STR, P, _INT, _INT, _U8, _INT, _U32]),
    "DataAttribute_setValue": (None, [P, P]),
    "DataAttribute_getType": (_INT, [P]),
    "DataAttribute_getFC": (_INT, [P]),
    "ModelNode_getChild": (P, [P, _STR]),
    "ModelNode_getChildWithIdx": (P, [P, _INT]),
    "ModelNode_getParent": (P, [P]),
    "ModelNode_getType": (_INT, [P]),
    "DataSet_create": (P, [_STR, P]),
    "DataSetEntry_create": (P, [P, _STR, _INT, _STR]),
    "ReportControlBlock_create": (P, [_STR, P, _STR, _BOOL, _STR, _U32, _U8, _U8, _U32, _U32]),
    # server lifecycle: libiec61850's own thread serves, or the event loop drives it threadless
    "IedServer_createWithConfig": (P, [P, P, P]),  # (model, TLSConfiguration: NULL, config or NULL)
    "IedServerConfig_create": (P, []),
    "IedServerConfig_destroy": (None, [P]),
    "IedServerConfig_setMaxMmsConnections": (None, [P, _INT]),
    "IedServer_destroy": (None, [P]),
    "IedServer_setLocalIpAddress": (None, [P, _STR]),
    "IedServer_start": (None, [P, _INT]),
    "IedServer_stop": (None, [P]),
    "IedServer_startThreadless": (None, [P, _INT]),
    "IedServer_stopThreadless": (None, [P]),
    "IedServer_isRunning": (_BOOL, [P]),
    "IedServer_waitReady": (_INT, [P, ctypes.c_uint]),
    "IedServer_processIncomingData": (None, [P]),
    "IedServer_performPeriodicTasks": (None, [P]),
    "IedServer_getNumberOfOpenConnections": (_INT, [P]),
    "IedServer_setWriteAccessPolicy": (None, [P, _INT, _INT]),
    # handlers
    "IedServer_handleWriteAccess": (None, [P, P, WriteAccessHandler, P]),
    "IedServer_setPerformCheckHandler": (None, [P, P, ControlCheckHandler, P]),
    "IedServer_setControlHandler": (None, [P, P, ControlHandler, P]),
    "ClientConnection_getPeerAddress": (_STR, [P]),
    "ClientConnection_getSecurityToken": (P, [P]),
    "IedServer_setAuthenticator": (None, [P, AcseAuthenticator, P]),
    "IedServer_setConnectionIndicationHandler": (None, [P, ConnectionIndicationHandler, P]),
    "ControlAction_getClientConnection": (P, [P]),
    "ControlAction_getControlObject": (P, [P]),
    "ControlAction_isSelect": (_BOOL, [P]),
    "ControlAction_setAddCause": (None, [P, _INT]),
    # value updates
    "IedServer_updateAttributeValue": (None, [P, P, P]),
    "IedServer_updateBooleanAttributeValue": (None, [P, P, _BOOL]),
    "IedServer_updateInt32AttributeValue": (None, [P, P, ctypes.c_int32]),
    "IedServer_updateInt64AttributeValue": (None, [P, P, ctypes.c_int64]),
    "IedServer_updateUnsignedAttributeValue": (None, [P, P, _U32]),
    "IedServer_updateFloatAttributeValue": (None, [P, P, ctypes.c_float]),
    "IedServer_updateVisibleStringAttributeValue": (None, [P, P, _STR]),
    "IedServer_updateUTCTimeAttributeValue": (None, [P, P, _U64]),
    "IedServer_updateQuality": (None, [P, P, _U16]),
    # MmsValue: constructors (the caller owns the result) and accessors
    "MmsValue_delete": (None, [P]),
    "MmsValue_newBoolean": (P, [_BOOL]),
    "MmsValue_newIntegerFromInt32": (P, [ctypes.c_int32]),
    "MmsValue_newIntegerFromInt64": (P, [ctypes.c_int64]),
    "MmsValue_newUnsignedFromUint32": (P, [_U32]),
    "MmsValue_newFloat": (P, [ctypes.c_float]),
    "MmsValue_newDouble": (P, [ctypes.c_double]),
    "MmsValue_newVisibleString": (P, [_STR]),
    "MmsValue_newMmsString": (P, [_STR]),
    "MmsValue_newUtcTimeByMsTime": (P, [_U64]),
    "MmsValue_newBitString": (P, [_INT]),
    "MmsValue_setBitStringFromInteger": (None, [P, _U32]),
    "MmsValue_newOctetString": (P, [_INT, _INT]),
    "MmsValue_setOctetString": (None, [P, _STR, _INT]),
    "MmsValue_getType": (_INT, [P]),
    "MmsValue_getBoolean": (_BOOL, [P]),
    "MmsValue_encodeMmsData": (_INT, [P, P, _INT, _BOOL]),  # (value, buffer, position, encode): new position
    "MmsValue_toDouble": (ctypes.c_double, [P]),
    "MmsValue_toString": (_STR, [P]),
    "MmsValue_getUtcTimeInMs": (_U64, [P]),
    "MmsValue_getBitStringAsInteger": (_U32, [P]),
    "MmsValue_getOctetStringSize": (_U16, [P]),
    "MmsValue_getOctetStringBuffer": (ctypes.POINTER(_U8), [P]),
    "MmsValue_getArraySize": (_U32, [P]),
    "MmsValue_getElement": (P, [P, _INT]),
    # direct value writes of attributes no data set reports (no report observer scan)
    "IedServer_getAttributeValue": (P, [P, P]),
    "MmsValue_setFloat": (None, [P, ctypes.c_float]),
    "MmsValue_setInt32": (None, [P, ctypes.c_int32]),
    "MmsValue_setBoolean": (None, [P, _BOOL]),
    "MmsValue_setUtcTimeMs": (None, [P, _U64]),
    "MmsValue_setVisibleString": (None, [P, _STR]),
    # client connections (relevent-ctl): closing joins the receive thread, which may be waiting for the
    # GIL in a report callback, so the GIL must be released meanwhile (SWIG holds it)
    "IedConnection_close": (None, [P]),
    "IedConnection_destroy": (None, [P]),
}


def _mapped_library() -> Path:
    """The libiec61850 file the SWIG extension loaded (not the extension itself)."""
    with Path("/proc/self/maps").open(encoding="ascii", errors="replace") as maps:
        for line in maps:
            path = Path(line.split()[-1])
            if path.name.startswith("libiec61850"):
                return path
    raise ImportError("pyiec61850 is imported but no libiec61850 library is mapped into the process")


def _load(path: Path) -> ctypes.CDLL:
    library = ctypes.CDLL(str(path))
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(library, name)
        function.restype = restype
        function.argtypes = argtypes
    return library


library_path = _mapped_library()
lib = _load(library_path)

__all__ = [
    "AcseAuthenticator",
    "AuthParameter",
    "ConnectionIndicationHandler",
    "ControlCheckHandler",
    "ControlHandler",
    "WriteAccessHandler",
    "iec",
    "lib",
    "library_path",
]
