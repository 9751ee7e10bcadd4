"""One write handler on many attributes, registered in linear time.

libiec61850 1.6 keeps its write handlers in a linked list that `IedServer_handleWriteAccess` searches
and then walks to its end: registering n handlers costs O(n^2), minutes for a 100-device site. Here the
first attribute is registered through that API; its list element is then found, field by field, in the
server's private data, and the other attributes are linked in behind it as one block of list elements and
handler records that this object owns (the same layout the library allocates one by one). `release`
unlinks the block again before the server is destroyed, so the library never frees memory it did not
allocate. The layout is private, so the table is linked only into the exact library build it was verified
with (`PINNED_BUILDS`, the SHA-256 of the file); every probe of private memory reads through /proc/self/mem,
where a wrong guess is an error and never a fault. With another build, or when the layout is not the
expected one, every attribute goes through the API instead (slow but correct), with a warning.

libiec61850's `IedServer_handleWriteAccessForDataObject` / `...ForComplexAttribute` are no way out: they
call the same per-attribute registration for every leaf (and for every constructed attribute on the way),
so they add elements to the same list (measured: slower than per leaf, docs/performance.md).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import struct
from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from relevent.wan.mms.lib import lib, library_path

if TYPE_CHECKING:
    from ctypes import _CFunctionType  # a WriteAccessHandler instance

log = structlog.get_logger(__name__)

_WORD = ctypes.sizeof(ctypes.c_void_p)
_FORMAT = {4: "I", 8: "Q"}[_WORD]
_SERVER_WORDS = 16  # how far into struct sIedServer the MmsMapping pointer is looked for
_MAPPING_WORDS = 256  # how far into struct sMmsMapping the handler list is looked for
_HANDLER_WORDS = 3  # AttributeAccessHandler: attribute, handler, parameter
_ELEMENT_WORDS = 2  # struct sLinkedList: data, next
_LIST_STEPS = 64  # how many elements of a candidate list are followed

# SHA-256 of the libiec61850 files whose list layout (sIedServer -> sMmsMapping -> attributeAccessHandlers,
# sLinkedList, AttributeAccessHandler) this module was checked against: libiec61850-51dd1582.so.1.6.1
# from pyiec61850-ng 1.6.1.10 (manylinux_2_28 x86_64). Add another build only after checking its source
# and running tests/mms/test_write_table.py with it.
PINNED_BUILDS = frozenset({"112a622f4f2a90244e811ba326eb7c0ea030fd41a8ebd8165c0269cd3e3198af"})


@functools.cache
def loaded_build() -> str:
    """The SHA-256 of the libiec61850 file mapped into this process."""
    return hashlib.sha256(library_path.read_bytes()).hexdigest()


class _Memory:
    """Reads words of this process's memory; an unmapped address is an OSError, not a crash."""

    def __init__(self) -> None:
        self._fd = os.open("/proc/self/mem", os.O_RDONLY)

    def close(self) -> None:
        os.close(self._fd)

    def word(self, address: int) -> int:
        if address <= 0 or address % _WORD:
            raise OSError(f"not a word address: {address:#x}")
        data = os.pread(self._fd, _WORD, address)
        if len(data) != _WORD:
            raise OSError(f"short read at {address:#x}")
        value: int = struct.unpack(_FORMAT, data)[0]
        return value


class WriteTable:
    """`handler` registered on every attribute of `attributes`, with the attribute's index as parameter.

    Keep the object (it owns the block libiec61850 walks) until `release`, which must run before
    `IedServer_destroy`.
    """

    def __init__(self, server: int, model: int, attributes: Sequence[int], handler: _CFunctionType) -> None:
        self._anchor = 0  # address of the `next` field of the API-registered element, 0: nothing linked
        self._block: tuple[array[int], array[int]] | None = None
        self.linear = False  # whether the block was linked in (False: all through the API, or nothing)
        if not attributes:
            return
        lib.IedServer_handleWriteAccess(server, attributes[0], handler, None)
        function = ctypes.cast(handler, ctypes.c_void_p).value or 0
        element = _find_element(server, model, attributes[0], function) if _pinned() else None
        if element is None:
            log.warning("libiec61850's write-handler list not found, or its build not verified: registering "
                        "write handlers one by one (slow start-up)", attributes=len(attributes))  # fmt: skip
            for index in range(1, len(attributes)):
                lib.IedServer_handleWriteAccess(server, attributes[index], handler, index)
            return
        self._link(element, attributes, function)
        self.linear = True

    def _link(self, element: int, attributes: Sequence[int], function: int) -> None:
        count = len(attributes) - 1
        if count == 0:
            return
        records = array(_FORMAT, bytes(count * _HANDLER_WORDS * _WORD))
        records[0::_HANDLER_WORDS] = array(_FORMAT, attributes[1:])
        records[1::_HANDLER_WORDS] = array(_FORMAT, [function]) * count
        records[2::_HANDLER_WORDS] = array(_FORMAT, range(1, count + 1))
        elements = array(_FORMAT, bytes(count * _ELEMENT_WORDS * _WORD))
        record_base, element_base = records.buffer_info()[0], elements.buffer_info()[0]
        record_size, element_size = _HANDLER_WORDS * _WORD, _ELEMENT_WORDS * _WORD
        elements[0::_ELEMENT_WORDS] = array(_FORMAT, range(record_base, record_base + count * record_size,
                                                           record_size))  # fmt: skip
        elements[1::_ELEMENT_WORDS] = array(_FORMAT, range(element_base + element_size,
                                                           element_base + (count + 1) * element_size,
                                                           element_size))  # fmt: skip
        elements[-1] = 0  # the API-registered element was the last: so is the block's last
        self._block = (records, elements)
        self._anchor = element + _WORD
        ctypes.c_void_p.from_address(self._anchor).value = element_base

    def release(self) -> None:
        """Unlink the block (keeping anything registered behind it); call before `IedServer_destroy`."""
        if self._anchor and self._block is not None:
            _, elements = self._block
            ctypes.c_void_p.from_address(self._anchor).value = elements[-1] or None
        self._anchor = 0
        self._block = None


def _pinned() -> bool:
    """Whether the loaded library is a pinned build (a warning if not)."""
    if loaded_build() in PINNED_BUILDS:
        return True
    log.warning("libiec61850 is not a build the write table was verified with",
                library=str(library_path), sha256=loaded_build())  # fmt: skip
    return False


def _find_element(server: int, model: int, attribute: int, function: int) -> int | None:
    """The list element libiec61850 made for (attribute, function), if it is the list's last."""
    memory = _Memory()
    try:
        for offset in range(1, _SERVER_WORDS):
            mapping = memory.word(server + offset * _WORD)
            if _readable(memory, mapping) and memory.word(mapping) == model:  # sMmsMapping starts with model
                return _find_in_mapping(memory, mapping, attribute, function)
    except OSError:
        return None
    else:
        return None
    finally:
        memory.close()


def _find_in_mapping(memory: _Memory, mapping: int, attribute: int, function: int) -> int | None:
    for offset in range(_MAPPING_WORDS):
        head = memory.word(mapping + offset * _WORD)
        if not _readable(memory, head):
            continue
        element = _follow(memory, head + _WORD)
        for _ in range(_LIST_STEPS):  # a list: a head, then elements whose data is a handler record
            record = _follow(memory, element) if element else 0
            if not record:
                break
            if _record_is(memory, record, attribute, function):
                return element if memory.word(element + _WORD) == 0 else None
            element = _follow(memory, element + _WORD)
    return None


def _record_is(memory: _Memory, record: int, attribute: int, function: int) -> bool:
    try:
        return (memory.word(record), memory.word(record + _WORD), memory.word(record + 2 * _WORD)) == (
            attribute, function, 0)  # fmt: skip
    except OSError:
        return False


def _follow(memory: _Memory, address: int) -> int:
    """The word at `address` if it is itself a readable address, else 0."""
    try:
        pointer = memory.word(address)
    except OSError:
        return 0
    return pointer if _readable(memory, pointer) else 0


def _readable(memory: _Memory, address: int) -> bool:
    try:
        memory.word(address)
    except OSError:
        return False
    return True
