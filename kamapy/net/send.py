"""Sending a built message to a next hop (Kamailio: forward.h msg_send)."""

from __future__ import annotations

import ipaddress
import logging
import socket

from ..runtime import rt
from ..sip.msg import PROTO_TCP, PROTO_TLS, PROTO_UDP, PROTO_WS, PROTO_WSS
from ..sip.msg_flags import FL_FORCE_RPORT
from ..sip.reply import reply_destination as _from_request
from .data_hooks import data_out as _data_out
from .data_hooks import run_out as _run_out
from .socket_info import SocketInfo, strip_brackets
from .tcp_send import send as _tcp_send

log = logging.getLogger("kamapy.net")

_name_cache: dict[str, tuple[str, int]] = {}


def resolve(host: str) -> tuple[str, int]:
    """host (IP literal or name) -> (ip, family). Results are cached per process (an IP
    literal costs a dict lookup after its first use); names go through the system
    resolver until the DNS module (SRV/NAPTR, its own server) replaces this."""
    hit = _name_cache.get(host)
    if hit is not None:
        return hit
    h = strip_brackets(host)
    try:
        ip = ipaddress.ip_address(h)
        hit = (str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET)
    except ValueError:
        info = socket.getaddrinfo(h, None, 0, socket.SOCK_DGRAM)
        hit = (info[0][4][0], info[0][0])
    if len(_name_cache) > 4096:  # a flood of distinct sources must not grow it forever
        _name_cache.clear()
    _name_cache[host] = hit
    return hit


def choose_socket(proto: int, af: int, forced: SocketInfo | None = None) -> SocketInfo | None:
    """The local socket to send from: the forced one if it fits, else the first listen
    socket of that transport and address family (Kamailio's get_send_socket, mhomed=0)."""
    if proto >= PROTO_WS:  # ws/wss leave from a tcp/tls listener (Kamailio has no ws sockets)
        proto = PROTO_TCP if proto == PROTO_WS else PROTO_TLS
    if forced is not None and forced.proto == proto and forced.af == af:
        return forced
    return rt.first_socket(proto, af)


def send_udp(data: bytes, host: str, port: int, forced: SocketInfo | None = None) -> bool:
    try:
        ip, af = resolve(host)
    except OSError as e:
        log.error("cannot resolve %s: %s", host, e)
        return False
    si = choose_socket(PROTO_UDP, af, forced)
    if si is None or si.sock is None:
        log.error("no UDP socket to send to %s:%d", ip, port)
        return False
    try:
        si.sock.sendto(data, (ip, port))
        return True
    except OSError as e:
        log.error("sendto %s:%d failed: %s", ip, port, e)
        return False


def send_to(proto: int, data: bytes, host: str, port: int, forced: SocketInfo | None = None,
            conid: int = 0, flags: int = 0) -> bool:
    """conid: the connection a reply must leave on (tm keeps the request's); 0 = by address.
    flags: the message's fwd/rpl send flags (tcp_send.SND_F_*); UDP ignores them."""
    if _data_out:  # SREV_NET_DATA_OUT (data_hooks.py): e.g. dialog's track_cseq_updates
        data = _run_out(data)
    if proto in (0, PROTO_UDP):
        return send_udp(data, host, port, forced)
    if proto in (PROTO_TCP, PROTO_TLS, PROTO_WS, PROTO_WSS):
        try:
            ip, _af = resolve(host)
        except OSError as e:
            log.error("cannot resolve %s: %s", host, e)
            return False
        return _tcp_send(proto, data, ip, port, forced, conid, flags)
    log.error("transport %d is not supported yet; cannot send to %s:%d", proto, host, port)
    return False


def reply_destination(msg) -> tuple[str, int]:
    """Where a locally generated reply goes (Kamailio: update_sock_struct_from_ip): the
    source IP; the source port when the top Via has rport or force_rport() ran, else the
    Via's port (5060 when it has none). One rule, read from the scan when it can be:
    kamapy.sip.reply.reply_destination."""
    return _from_request(msg, bool(msg.xflags & FL_FORCE_RPORT))


def send_reply(msg, data: bytes) -> bool:
    """Send a locally built reply to `msg` from the socket the request arrived on."""
    ip, port = reply_destination(msg)
    return send_to(msg.rcv.proto, data, ip, port, msg.rcv.sock, 0, msg.rpl_send_flags)
