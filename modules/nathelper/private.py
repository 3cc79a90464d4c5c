"""Which addresses nathelper counts as private (Kamailio 5.6 nathelper: nh_nets_1918,
nh_nets_extra, nat_addr_mode), and the address helpers the tests share.

Only IPv4 is ever private here: an IPv6 address (or anything inet_aton refuses) is not,
as in Kamailio. Text is read with the C library's inet_aton (socket.inet_aton is a
thin wrapper), so the forms it accepts ("10.1", "0x0a.0.0.1", a trailing " junk") are
the forms Kamailio accepts.
"""

from __future__ import annotations

import ipaddress
import socket

# (network, mask) as host-order integers
_NETS_1918 = (
    (0x0A000000, 0xFF000000),  # 10.0.0.0/8
    (0xAC100000, 0xFFF00000),  # 172.16.0.0/12
    (0xC0A80000, 0xFFFF0000),  # 192.168.0.0/16
    (0x64400000, 0xFFC00000),  # 100.64.0.0/10, RFC 6598 shared (carrier-grade NAT) space
    (0xC0000000, 0xFFFFFFF8),  # 192.0.0.0/29, RFC 7335 service continuity prefix
)
_NETS_EXTRA = (
    (0xC0000000, 0xFFFFFF00),  # 192.0.0.0/24, IETF protocol assignments (nat_addr_mode 1)
)

STATE = {"nat_addr_mode": 1}


def is_private_int(n: int) -> bool:
    for net, mask in _NETS_1918:
        if n & mask == net:
            return True
    if STATE["nat_addr_mode"] == 1:
        for net, mask in _NETS_EXTRA:
            if n & mask == net:
                return True
    return False


def is1918_text(text: str) -> int:
    """1 private, 0 a public IPv4 address, -1 not an IPv4 address (Kamailio is1918addr)."""
    if not text or "\0" in text:
        return -1
    try:
        packed = socket.inet_aton(text)
    except (OSError, UnicodeError, ValueError):
        return -1
    return 1 if is_private_int(int.from_bytes(packed, "big")) else 0


def is_private_ip(ip: str) -> bool:
    """The source address of a message (already an address): only IPv4 can be private."""
    if ":" in ip:
        return False
    try:
        return is_private_int(int.from_bytes(socket.inet_aton(ip), "big"))
    except OSError:
        return False


def parse_ip(text: str):
    """An ipaddress object for an IPv4 dotted quad or IPv6 (brackets allowed), else
    None -- what Kamailio's str2ip / str2ip6 accept."""
    if not text:
        return None
    t = text[1:-1] if text[:1] == "[" and text[-1:] == "]" else text
    try:
        if ":" in t:
            return ipaddress.IPv6Address(t)
        # Kamailio's str2ip: only digits and exactly three dots; an empty part is 0 and
        # a part over 255 wraps (each octet is an unsigned char)
        parts = t.split(".")
        if len(parts) != 4 or not all(p.isdigit() and p.isascii() for p in parts if p):
            return None
        return ipaddress.IPv4Address(".".join(str(int(p or "0") % 256) for p in parts))
    except ValueError:
        return None


def same_ip(a: str, b: str) -> bool:
    x, y = parse_ip(a), parse_ip(b)
    return x is not None and x == y
