"""One datagram to many destinations in a few syscalls (sendmmsg, kp_udpsend.c): the
NAT pingers send the same 4 bytes to thousands of contacts a second, and a sendto()
per contact from Python cost more than the ping itself.

    addr = pack_sockaddr("192.0.2.7", 5060)      # once per destination, kept
    sent, failed, err = send_many(sock, b"\\0\\0\\0\\0", [addr, ...])
"""

from __future__ import annotations

import socket
import struct

from kamapy._native._kamapy_native import ffi, lib

_IN = struct.Struct("=HH4s8x")        # struct sockaddr_in: family, port (network order), addr
_IN6 = struct.Struct("=HHI16sI")      # struct sockaddr_in6: family, port, flowinfo, addr, scope


def pack_sockaddr(ip: str, port: int) -> bytes:
    """The C sockaddr of ip:port (IPv4 16 bytes, IPv6 28)."""
    if ":" in ip:
        return _IN6.pack(socket.AF_INET6, socket.htons(port), 0, socket.inet_pton(socket.AF_INET6, ip), 0)
    return _IN.pack(socket.AF_INET, socket.htons(port), socket.inet_aton(ip))


_failed = ffi.new("int *")
_errno = ffi.new("int *")


def send_many(sock: socket.socket, data: bytes, addrs: list[bytes]) -> tuple[int, int, int]:
    """Send data from sock to every packed address of one family: (sent, failed, errno
    of the last failure)."""
    if not addrs:
        return 0, 0, 0
    size = len(addrs[0])
    n = lib.kp_udp_send_many(sock.fileno(), data, len(data), b"".join(addrs), size, len(addrs),
                             _failed, _errno)
    return n, _failed[0], _errno[0]
