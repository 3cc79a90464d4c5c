"""UDP pings with a source address that is not one of ours, through a raw IPv4 socket
(Kamailio: natping_socket and udpping_from_path, send_raw()).

  natping_socket     "[udp:]host[:port]": every 4-byte ping leaves as if sent from
                     there (port 5060 when none is given); IPv4 only
  udpping_from_path  N > 0: a contact registered through a Path gets its ping from the
                     Path hop's address -- the last hop's for 1, the (N-1)-th hop's
                     otherwise, as Kamailio counts -- so the NAT binding the UA made
                     towards its edge proxy is the one refreshed; natping_socket is
                     then not used

The socket is made in mod_init (as root, before the ping processes fork), so a server
without CAP_NET_RAW refuses to start, as Kamailio does. The packet is built here: an
IPv4 header (TTL 69, id 23, as Kamailio's) and a UDP header without checksum (0 is
allowed for IPv4). SIP pings never use it.

Where Kamailio differs (D-nathelper-ping-2): with udpping_from_path, a contact without
a Path gets its ping from a stale or empty source address in Kamailio (the previous
contact's Path, or 0.0.0.0:0); here it is pinged from our own socket, as without the
parameter. An IPv6 destination, which Kamailio's IPv4-only raw send garbles, is also
pinged from our socket.
"""

from __future__ import annotations

import logging
import socket
import struct

log = logging.getLogger("kamapy.nathelper")

TTL = 69
IP_ID = 23


class RawPinger:
    def __init__(self, sock: socket.socket, fixed: tuple[str, int] | None, path_depth: int):
        self.sock = sock
        self.fixed = fixed            # natping_socket's (ip, port), or None
        self.path_depth = path_depth  # udpping_from_path (0: off)

    def close(self):
        self.sock.close()

    def source(self, path: str) -> tuple[str, int] | None | bool:
        """The spoofed source for a contact with this Path: (ip, port); None to send
        normally; False when the contact gets no ping (an unusable Path)."""
        if self.path_depth:
            if not path:
                return None
            hp = path_hostport(path, self.path_depth)
            if hp is None:
                log.error("nathelper: unable to parse path from location")
                return False
            src = parse_hostport(hp)
            if src is None:
                log.error("nathelper: could not parse path host for udpping_from_path")
                return False
            return src
        return self.fixed

    def send(self, data: bytes, dst: tuple[str, int], src: tuple[str, int]) -> bool:
        try:
            self.sock.sendto(packet(data, src, dst), (dst[0], 0))
            return True
        except OSError as e:
            log.error("nathelper: send_raw to %s:%d failed: %s", dst[0], dst[1], e)
            return False


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def packet(payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    """IPv4 + UDP headers and the payload."""
    total = 20 + 8 + len(payload)
    s, d = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, IP_ID, 0, TTL, socket.IPPROTO_UDP, 0, s, d)
    head = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0)
    return head + udp + payload


def path_hostport(path: str, depth: int) -> str | None:
    """The host:port of a Path hop as Kamailio's extract_last_path_ip() finds it: the
    text after a "<sip:" up to the next ';' or '>' -- the last such hop when depth is
    1, else the hop where the (depth-1)-th end falls."""
    max_depth = depth - 1
    start = end = None
    seen = 0
    n = len(path)
    i = 0
    while i < n:
        if path.startswith("<sip:", i) and i < n - 4:
            start, end = i + 5, None
        ch = path[i]
        if ch in ";>" and end is None:
            end = i
            if max_depth:
                seen += 1
                if seen >= max_depth:
                    break
        i += 1
    if start is None or end is None or end < start or end - start > 23:
        return None
    return path[start:end]


def parse_hostport(text: str) -> tuple[str, int] | None:
    """'[udp:]host[:port]' -> (IPv4 address, port), resolving a name; None when it is
    not one (or not IPv4)."""
    t = text.strip()
    if t.lower().startswith("udp:"):
        t = t[4:]
    host, sep, port = t.rpartition(":")
    if not sep:
        host, port = t, ""
    if not host or "[" in host or ":" in host:
        return None
    if port and not port.isdigit():
        return None
    try:
        ip = socket.gethostbyname(host)
    except OSError:
        return None
    p = int(port) if port else 5060
    if not 0 < p < 65536:
        return None
    return ip, p


_NOT_UDP = ("tcp", "tls", "sctp", "ws", "wss")


def valid(natping_socket: str) -> bool:
    """Is it usable (or, for another protocol, only warned about, as Kamailio does)?"""
    proto = natping_socket.split(":", 1)[0].lower() if ":" in natping_socket else ""
    return proto in _NOT_UDP or parse_hostport(natping_socket) is not None


def setup(natping_socket: str, udpping_from_path: int) -> RawPinger | None | bool:
    """The pinger for these parameters; None when neither is set; False (logged) when
    the server must not start."""
    if not natping_socket and not udpping_from_path:
        return None
    fixed = None
    if not udpping_from_path:
        proto = natping_socket.split(":", 1)[0].lower() if ":" in natping_socket else ""
        if proto in _NOT_UDP:
            # Kamailio says so and goes on with its ordinary pings
            log.critical("nathelper: natping_socket can be only UDP <%s>", natping_socket)
        else:
            fixed = parse_hostport(natping_socket)
            if fixed is None:
                log.critical("nathelper: invalid natping_socket parameter <%s> (an IPv4 "
                             "[udp:]host[:port])", natping_socket)
                return False
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    except OSError as e:
        log.error("nathelper: cannot create the raw socket natping_socket / udpping_from_path "
                  "need (CAP_NET_RAW): %s", e)
        return False
    return RawPinger(sock, fixed, udpping_from_path)
