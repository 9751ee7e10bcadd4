"""relevent-ctl's MMS connection: libiec61850's client (SWIG bindings) with plain Python values and errors.

Only for processes that run no libiec61850 server with Python callbacks: SWIG calls hold the GIL, so a
blocking client call would stall such a server (see the MMS binding notes).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pyiec61850.pyiec61850 as iec

from relevent.ctl.errors import (
    ADD_CAUSE_MEANINGS,
    ERROR_MEANINGS,
    Code,
    Refusal,
    RefusedError,
    UnreachableError,
)
from relevent.wan.mms.lib import lib

Value = bool | int | float | str | datetime | tuple["Value", ...] | None
Scalar = bool | int | float | str | datetime

_CONNECT_ATTEMPTS = 5


def _codes(prefix: str) -> dict[int, str]:
    """`IED_ERROR_ACCESS_DENIED` -> {21: "access-denied"}, from the binding's own constants."""
    return {
        getattr(iec, name): name.removeprefix(prefix).lower().replace("_", "-")
        for name in dir(iec)
        if name.startswith(prefix)
    }


_ERRORS = _codes("IED_ERROR_")
_ADD_CAUSES = _codes("ADD_CAUSE_")
# Errors that mean the connection is gone rather than the request refused.
_LOST = {iec.IED_ERROR_NOT_CONNECTED, iec.IED_ERROR_CONNECTION_LOST, iec.IED_ERROR_TIMEOUT}


def error_code(value: int) -> Code:
    """An IedClientError with its name and meaning."""
    name = _ERRORS.get(value, "unknown")
    return Code(value, name, ERROR_MEANINGS.get(name, ""))


def add_cause_code(value: int) -> Code:
    """An AddCause with its name and meaning."""
    name = _ADD_CAUSES.get(value, "unknown")
    return Code(value, name, ADD_CAUSE_MEANINGS.get(name, ""))


def fc_of(name: str) -> int:
    """The functional constraint constant of `"SP"`, `"ST"`, `"MX"`, ..."""
    return int(getattr(iec, f"IEC61850_FC_{name}"))


def decode(value: Any) -> Value:  # noqa: PLR0911 - one return per MMS type
    """A library-owned MmsValue as a Python value; structures and arrays become tuples."""
    kind = iec.MmsValue_getType(value)
    if kind == iec.MMS_BOOLEAN:
        return bool(iec.MmsValue_getBoolean(value))
    if kind == iec.MMS_INTEGER:
        return int(iec.MmsValue_toInt64(value))
    if kind == iec.MMS_UNSIGNED:
        return int(iec.MmsValue_toUint32(value))
    if kind == iec.MMS_FLOAT:
        return float(iec.MmsValue_toDouble(value))
    if kind in {iec.MMS_VISIBLE_STRING, iec.MMS_STRING}:
        return str(iec.MmsValue_toString(value))
    if kind == iec.MMS_UTC_TIME:
        return datetime.fromtimestamp(iec.MmsValue_getUtcTimeInMs(value) / 1000, tz=UTC)
    if kind == iec.MMS_BIT_STRING:
        return int(iec.MmsValue_getBitStringAsInteger(value))
    if kind in {iec.MMS_STRUCTURE, iec.MMS_ARRAY}:
        return tuple(
            decode(iec.MmsValue_getElement(value, i)) for i in range(iec.MmsValue_getArraySize(value))
        )
    return None  # types the scheduling model does not use (octet strings, binary time, ...)


def _encode(value: Scalar) -> Any:
    """A new MmsValue (the caller deletes it)."""
    if isinstance(value, bool):
        return iec.MmsValue_newBoolean(value)
    if isinstance(value, int):
        return iec.MmsValue_newIntegerFromInt32(value)
    if isinstance(value, float):
        return iec.MmsValue_newFloat(value)
    if isinstance(value, datetime):
        return iec.MmsValue_newUtcTimeByMsTime(round(value.timestamp() * 1000))
    return iec.MmsValue_newVisibleString(value)


@dataclass(frozen=True)
class ClientSecurity:
    """How to prove who we are: TLS when `ca_file` is set, an ACSE password when `password` is.

    The client certificate (`cert_file`, `key_file`) is optional for the client, required by a TLS gateway.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    password: str | None = None


class MmsClient:
    """One connection to an MMS server; every failure raises `RefusedError` or `UnreachableError`."""

    def __init__(
        self, host: str, port: int, timeout_ms: int = 3000, security: ClientSecurity | None = None
    ) -> None:
        self.host, self.port = host, port
        try:  # libiec61850 reports a name it cannot resolve as "unknown (99)"
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnreachableError(f"cannot resolve the host name {host!r}: {exc.strerror}") from None
        self.security = security or ClientSecurity()
        self.con: Any = None
        self._tls: Any = None
        self._auth: Any = None
        for _ in range(_CONNECT_ATTEMPTS):
            if self._connect_once(timeout_ms):
                return
        raise UnreachableError(f"{host}:{port}: the MMS server accepts connections but does not answer")

    def _connect_once(self, timeout_ms: int) -> bool:
        # libiec61850's client loses about every second first connection of a process: connect succeeds,
        # the first request fails with CONNECTION_LOST. A probe request detects it; a fresh one then works.
        self.close()
        self.con = self._create()
        iec.IedConnection_setConnectTimeout(self.con, timeout_ms)
        iec.IedConnection_setRequestTimeout(self.con, timeout_ms)
        _, err = iec.IedConnection_connect(self.con, self.host, self.port)
        if err != iec.IED_ERROR_OK:
            self.close()
            failed = error_code(err).explained()
            raise UnreachableError(f"cannot connect to {self.host}:{self.port}: {failed}")
        _, err = iec.IedConnection_getLogicalDeviceList(self.con)
        return bool(err == iec.IED_ERROR_OK)

    def _create(self) -> Any:
        """A connection object with the TLS and ACSE settings of `security` (owned until `close`)."""
        sec = self.security
        if sec.ca_file is None:
            con = iec.IedConnection_create()
        else:
            self._tls = iec.TLSConfiguration_create()
            iec.TLSConfiguration_setClientMode(self._tls)
            tls = self._tls
            loaded = iec.TLSConfiguration_addCACertificateFromFile(tls, str(sec.ca_file))
            if sec.cert_file is not None and sec.key_file is not None:
                loaded = loaded and iec.TLSConfiguration_setOwnCertificateFromFile(tls, str(sec.cert_file))
                loaded = loaded and iec.TLSConfiguration_setOwnKeyFromFile(tls, str(sec.key_file), None)
            if not loaded:
                self.close()
                raise UnreachableError("cannot load the TLS CA, certificate or key file")
            con = iec.IedConnection_createWithTlsSupport(self._tls)
        if sec.password is not None:
            self._auth = iec.AcseAuthenticationParameter_create()
            iec.AcseAuthenticationParameter_setAuthMechanism(self._auth, iec.ACSE_AUTH_PASSWORD)
            iec.AcseAuthenticationParameter_setPassword(self._auth, sec.password)
            parameters = iec.MmsConnection_getIsoConnectionParameters(iec.IedConnection_getMmsConnection(con))
            iec.IsoConnectionParameters_setAcseAuthenticationParameter(parameters, self._auth)
        return con

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.con is not None:
            # through ctypes, which releases the GIL: the receive thread may be in a report callback
            # waiting for it, and closing joins that thread (a SWIG call here would deadlock)
            pointer = int(self.con.this) if hasattr(self.con, "this") else int(self.con)
            lib.IedConnection_close(pointer)
            lib.IedConnection_destroy(pointer)
            self.con = None
        if self._auth is not None:  # referenced, not owned, by the connection: freed after it
            iec.AcseAuthenticationParameter_destroy(self._auth)
            self._auth = None
        if self._tls is not None:
            iec.TLSConfiguration_destroy(self._tls)
            self._tls = None

    @property
    def connected(self) -> bool:
        """Whether the connection is still up."""
        return self.con is not None and iec.IedConnection_getState(self.con) == iec.IED_STATE_CONNECTED

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def check(self, ref: str, err: int) -> None:
        """Raise for a failed request on `ref`."""
        if err == iec.IED_ERROR_OK:
            return
        if err in _LOST:
            raise UnreachableError(f"{self.host}:{self.port}: {ref}: {error_code(err)}")
        raise RefusedError(Refusal(ref, error_code(err)))

    # ---- browsing ---------------------------------------------------------------------------------------

    def _names(self, ref: str, result: tuple[Any, int]) -> list[str]:
        names, err = result
        self.check(ref, err)
        return list(_linked_strings(names))

    def logical_devices(self) -> list[str]:
        """The LD names (`DER_Scheduler_Control`)."""
        return self._names("server directory", iec.IedConnection_getLogicalDeviceList(self.con))

    def logical_nodes(self, ld: str) -> list[str]:
        """The LN names of one LD."""
        return self._names(ld, iec.IedConnection_getLogicalDeviceDirectory(self.con, ld))

    def data_objects(self, ln_ref: str) -> list[str]:
        """The DO names of one LN (`LD/LN`)."""
        directory = iec.IedConnection_getLogicalNodeDirectory(self.con, ln_ref, iec.ACSI_CLASS_DATA_OBJECT)
        return self._names(ln_ref, directory)

    def report_blocks(self, ln_ref: str) -> list[str]:
        """The unbuffered report control blocks of one LN."""
        return self._names(
            ln_ref, iec.IedConnection_getLogicalNodeDirectory(self.con, ln_ref, iec.ACSI_CLASS_URCB)
        )

    def children(self, ref: str) -> list[str]:
        """The sub-objects and attributes of a DO or DA (`LD/LN.DO`)."""
        return self._names(ref, iec.IedConnection_getDataDirectory(self.con, ref))

    # ---- services ---------------------------------------------------------------------------------------

    def read(self, ref: str, fc: str) -> Value:
        """Read one object (`LD/LN.DO.DA`) of functional constraint `fc`."""
        value, err = iec.IedConnection_readObject(self.con, ref, fc_of(fc))
        self.check(ref, err)
        try:
            return decode(value)
        finally:
            iec.MmsValue_delete(value)

    def read_tree(self, ref: str, fc: str) -> dict[str, Any]:
        """Read every attribute of functional constraint `fc` below `ref` (an LN or DO) in one request.

        Returns nested dicts keyed by DO/DA names (named from the server's variable specification).
        """
        spec, err = iec.IedConnection_getVariableSpecification(self.con, ref, fc_of(fc))
        self.check(ref, err)
        try:
            value, err = iec.IedConnection_readObject(self.con, ref, fc_of(fc))
            self.check(ref, err)
            try:
                tree = _named(value, spec)
            finally:
                iec.MmsValue_delete(value)
        finally:
            iec.MmsVariableSpecification_destroy(spec)
        return tree if isinstance(tree, dict) else {}

    def write(self, ref: str, fc: str, value: Scalar) -> None:
        """Write one attribute."""
        mms = _encode(value)
        try:
            _, err = iec.IedConnection_writeObject(self.con, ref, fc_of(fc), mms)
        finally:
            iec.MmsValue_delete(mms)
        self.check(ref, err)

    def operate(self, ref: str, ctl_val: bool, test: bool = False) -> None:
        """Operate a direct control (`LD/LN.EnaReq`); a refusal carries the AddCause of LastApplError."""
        control = iec.ControlObjectClient_create(ref, self.con)
        if control is None:
            raise RefusedError(Refusal(ref, error_code(iec.IED_ERROR_OBJECT_DOES_NOT_EXIST)))
        try:
            iec.ControlObjectClient_setTestMode(control, test)
            mms = iec.MmsValue_newBoolean(ctl_val)
            accepted = bool(iec.ControlObjectClient_operate(control, mms, 0))
            iec.MmsValue_delete(mms)
            if not accepted:
                err = int(iec.ControlObjectClient_getLastError(control)) or iec.IED_ERROR_UNKNOWN
                if err in _LOST:
                    self.check(ref, err)
                add_cause = int(iec.ControlObjectClient_getLastApplError(control).addCause)
                raise RefusedError(Refusal(ref, error_code(err), add_cause=add_cause_code(add_cause)))
        finally:
            iec.ControlObjectClient_destroy(control)


def _named(value: Any, spec: Any) -> Any:
    """A structure as a dict keyed by its members' names; anything else as `decode` gives it."""
    if iec.MmsValue_getType(value) != iec.MMS_STRUCTURE:
        return decode(value)
    members = {}
    for i in range(iec.MmsValue_getArraySize(value)):
        child = iec.MmsVariableSpecification_getChildSpecificationByIndex(spec, i)
        members[str(iec.MmsVariableSpecification_getName(child))] = _named(
            iec.MmsValue_getElement(value, i), child
        )
    return members


def _linked_strings(names: Any) -> Iterator[str]:
    """The strings of a libiec61850 LinkedList, which is destroyed afterwards."""
    try:
        element = iec.LinkedList_getNext(names)
        while element:
            yield str(iec.toCharP(element.data))
            element = iec.LinkedList_getNext(element)
    finally:
        iec.LinkedList_destroy(names)
