"""Free local TCP ports, picked by the kernel, and the address family of a host."""

from __future__ import annotations

import socket

_GIVEN: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now, and never one this process had before.

    The kernel may hand a port it just released out again: two picks in a row, both still unbound,
    must not be the same port.
    """
    while True:
        with socket.socket(address_family(host)) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def address_family(host: str) -> socket.AddressFamily:
    """IPv6 for an address with a colon, else IPv4."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET
