"""The MMS server's accepted TCP connections, found from outside libiec61850.

libiec61850 exposes no socket of a connection, so they are found among the process's own descriptors
(`/proc/self/fd`): a connected TCP socket whose local port is the server's. Each is judged through a
`dup` of its descriptor, so the socket judged is the socket acted on even if the library closes its own
descriptor meanwhile and the number is reused; the library's descriptor itself is never closed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

Peer = tuple[str, int]  # the client's address (IPv4-mapped IPv6 as IPv4) and port

_FDS = Path("/proc/self/fd")
_INET = (socket.AF_INET, socket.AF_INET6)


def peer(host: str, port: int) -> Peer:
    """A client address in one spelling, whoever reported it."""
    address = ipaddress.ip_address(host.split("%", 1)[0])  # no IPv6 zone index
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), port


def parse_peer(text: str) -> Peer | None:
    """A peer from libiec61850's `host:port` (`[v6]:port` for IPv6); None when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    try:
        return peer(host.removeprefix("[").removesuffix("]"), int(port))
    except ValueError:
        return None


@dataclass(frozen=True)
class AcceptedSocket:
    """One accepted connection, held through a duplicate descriptor (closed when the scan ends)."""

    sock: socket.socket
    inode: int  # the socket's identity while it lives
    peer: Peer

    def shut_down(self) -> None:
        """Shut the connection down both ways: the library then reads its end and frees the slot itself."""
        self.sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def accepted(port: int) -> Iterator[list[AcceptedSocket]]:
    """The connections accepted on local TCP `port` by this process, held until the block ends."""
    with ExitStack() as stack:
        found = []
        for entry in _socket_fds():
            try:
                sock = stack.enter_context(_held(entry))
                tcp = sock.family in _INET and sock.type == socket.SOCK_STREAM
                if not tcp or sock.getsockname()[1] != port:
                    continue
                host, remote_port = sock.getpeername()[:2]  # a listening socket has none: OSError
                found.append(AcceptedSocket(sock, os.fstat(sock.fileno()).st_ino, peer(host, remote_port)))
            except OSError:
                continue  # closed meanwhile, or not connected
        yield found


def _held(fd: int) -> socket.socket:
    """A socket object on a duplicate of `fd` (OSError when `fd` is closed or, reused, no socket)."""
    dup = os.dup(fd)
    try:
        return socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        raise


def _socket_fds() -> list[int]:
    fds = []
    for entry in _FDS.iterdir():
        try:
            if str(entry.readlink()).startswith("socket:["):
                fds.append(int(entry.name))
        except (OSError, ValueError):
            continue  # closed meanwhile (the listing's own descriptor among them)
    return fds
