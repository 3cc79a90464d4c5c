"""Flow tokens (RFC 5626 §5.2): the edge proxy's name for one flow, carried as the user
part of the Path / Record-Route URI it adds, so a request that comes back through it
can be sent down the same connection or NAT binding.

kamapy's encoding (its own; Kamailio's outbound has another, tokens of one are
unknown to the other -- docs/differences.md D-outbound-1):

    token = base64url_nopad( MAC[10] | proto[1] | local-ip | local-port[2] | peer-ip | peer-port[2] )

    proto      bits 0-6: the transport (kamapy.sip.msg PROTO_*), bit 7: IPv6 addresses
    local-*    the listen socket the request arrived on (4 or 16 bytes + port): the socket
               the flow leaves from again (a bind address, so a proxy in front of us
               does not change it)
    peer-*     the source address and port the request came from
    MAC        HMAC-SHA256 over the bytes after it, first 10 bytes (80 bits, RFC 5626
               §5.2 asks for a MAC; 80 bits as Kamailio uses)

23 bytes for IPv4 (31 characters), 47 for IPv6 (63 characters): only [A-Za-z0-9_-],
all unreserved in a SIP URI user part. The key is SHA-256 of flow_token_secret, or 32
random bytes drawn in mod_init (before the fork, so all workers share it; tokens then
stop validating on a restart, as in Kamailio).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import struct

MAC_LEN = 10
_V4_LEN = MAC_LEN + 1 + 6 + 6
_V6_LEN = MAC_LEN + 1 + 18 + 18
_IPV6_BIT = 0x80

# decode results (Kamailio's decode_flow_token: -2 "not a flow token", -1 "forged")
NOT_A_TOKEN = -2
BAD_MAC = -1


class Flow:
    """What a flow token names."""

    __slots__ = ("proto", "local_ip", "local_port", "src_ip", "src_port")

    def __init__(self, proto: int, local_ip: str, local_port: int, src_ip: str, src_port: int):
        self.proto = proto
        self.local_ip = local_ip
        self.local_port = local_port
        self.src_ip = src_ip
        self.src_port = src_port

    def __repr__(self):
        return f"Flow({self.proto}, {self.local_ip}:{self.local_port} <- {self.src_ip}:{self.src_port})"


class FlowKey:
    """The HMAC key of this server (set in mod_init)."""

    __slots__ = ("key",)

    def __init__(self):
        self.key = b""

    def set_secret(self, secret: str | None):
        self.key = hashlib.sha256(secret.encode()).digest() if secret else os.urandom(32)


key = FlowKey()


def _mac(body: bytes) -> bytes:
    return hmac.new(key.key, body, hashlib.sha256).digest()[:MAC_LEN]


def _packed(ip: str) -> bytes:
    return ipaddress.ip_address(ip.strip("[]")).packed


def _as_v6(packed: bytes) -> bytes:
    return b"\0" * 10 + b"\xff\xff" + packed if len(packed) == 4 else packed


def encode(proto: int, local_ip: str, local_port: int, src_ip: str, src_port: int) -> str:
    """The token for a flow. ValueError for an address that is not an IP."""
    lip, sip = _packed(local_ip), _packed(src_ip)
    if len(lip) != len(sip):  # a v4 peer on a v6 socket: both as v6 (v4-mapped)
        lip, sip = _as_v6(lip), _as_v6(sip)
    first = (proto & 0x7F) | (_IPV6_BIT if len(lip) == 16 else 0)
    body = bytes((first,)) + lip + struct.pack("!H", local_port) + sip + struct.pack("!H", src_port)
    return base64.urlsafe_b64encode(_mac(body) + body).rstrip(b"=").decode("ascii")


def encode_rcv(rcv) -> str:
    """The token for the flow a request arrived on (Kamailio's encode_flow_token(rcv)):
    the listen socket's own address when known, else the address it was sent to."""
    si = rcv.sock
    local_ip, local_port = (si.address, si.port) if si is not None else (rcv.dst_ip, rcv.dst_port)
    return encode(rcv.proto, local_ip, local_port, rcv.src_ip, rcv.src_port)


def decode(token: str) -> Flow | int:
    """The Flow a token of ours names, NOT_A_TOKEN (not one: wrong length or alphabet)
    or BAD_MAC (the right shape, but not made with our key: tampered or foreign)."""
    if not token or len(token) not in (31, 63):
        return NOT_A_TOKEN
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return NOT_A_TOKEN
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        return NOT_A_TOKEN  # '+' or '/' decoded leniently
    v6 = bool(raw[MAC_LEN] & _IPV6_BIT) if len(raw) > MAC_LEN else False
    if len(raw) != (_V6_LEN if v6 else _V4_LEN):
        return NOT_A_TOKEN
    body = raw[MAC_LEN:]
    if not hmac.compare_digest(raw[:MAC_LEN], _mac(body)):
        return BAD_MAC
    n = 16 if v6 else 4
    pos = 1
    lip = ipaddress.ip_address(body[pos:pos + n])
    pos += n
    (lport,) = struct.unpack("!H", body[pos:pos + 2])
    pos += 2
    sip = ipaddress.ip_address(body[pos:pos + n])
    pos += n
    (sport,) = struct.unpack("!H", body[pos:pos + 2])
    return Flow(body[0] & 0x7F, _text(lip), lport, _text(sip), sport)


def _text(ip) -> str:
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else str(ip)
