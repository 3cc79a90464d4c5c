"""The ng control protocol on the wire: "<cookie> <bencoded dict>" over UDP (or, for a
unix: node, the bare dictionary over a stream socket), Kamailio's send_rtpp_command.

Each process has its own connected UDP socket per node (made on first use, after the
fork). A request is sent up to rtpengine_retr times; after each send the reply is
awaited for rtpengine_tout_ms. Datagrams whose cookie is not ours (late replies to an
earlier request) are dropped, and stale ones are drained before sending.
"""

from __future__ import annotations

import errno
import logging
import select
import socket

from kamapy.node_sockets import NodeSockets

from . import bencode
from .nodes import RNU_LOCAL, RNU_UDP6, Node

log = logging.getLogger("kamapy.rtpengine")

_MAX_REPLY = 0x40000


class Settings:
    tout_ms = 1000
    retr = 5
    server_id = 0
    tos = -1
    bind_ip = ""     # force_send_interface


settings = Settings()
_socks = NodeSockets()
reset = _socks.reset
_seq = 0


def _cookie() -> bytes:
    global _seq
    _socks.check_pid()
    c = f"{settings.server_id}_{_socks.pid}_{_seq}".encode()
    _seq += 1
    return c


def _sock(node: Node) -> socket.socket | None:
    return _socks.get(node.idx, lambda: _connect(node))


def _connect(node: Node) -> socket.socket | None:
    family = socket.AF_INET6 if node.mode == RNU_UDP6 else socket.AF_INET
    try:
        infos = socket.getaddrinfo(node.host, node.port, family, socket.SOCK_DGRAM)
    except OSError as e:
        log.error("%s", e)
        return None
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if 0 <= settings.tos < 256:
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, settings.tos)
            else:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, settings.tos)
        if settings.bind_ip:
            s.bind((settings.bind_ip, 0))
        s.connect(infos[0][4])
    except OSError:
        log.error("can't connect to a RTPEngine instance")
        s.close()
        return None
    return s


def send_command(node: Node, request) -> bytes | None:
    """The reply's bencoded part (cookie stripped), or None when the node did not
    answer (no socket, send error, or no reply within tout_ms x retr)."""
    body = bencode.encode(request)
    command = _command_name(request)
    if node.mode == RNU_LOCAL:
        return _send_local(node, body)
    s = _sock(node)
    if s is None:
        return None
    try:  # drain what an earlier, timed-out request left behind
        while True:
            s.recv(_MAX_REPLY)
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        pass
    cookie = _cookie()
    packet = cookie + b" " + body
    poller = select.poll()
    poller.register(s, select.POLLIN)
    for _ in range(max(0, settings.retr)):
        try:
            s.send(packet)
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EINTR, errno.ECONNREFUSED):
                log.error('can\'t send command "%s" to RTPEngine <%s>', command, node.url)
                return None
        while poller.poll(settings.tout_ms):
            try:
                data = s.recv(_MAX_REPLY)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionRefusedError:
                # ICMP port unreachable from an earlier send: nobody listens (yet); wait
                # out this try like a lost datagram
                continue
            except OSError:
                log.error('can\'t read reply for command "%s" from RTPEngine <%s>',
                          command, node.url)
                return None
            # the cookie and its space: Kamailio compares only the cookie's length, so a
            # reply to request 1 would also match request 12
            if data.startswith(cookie) and data[len(cookie):len(cookie) + 1] in (b" ", b""):
                return data[len(cookie) + 1:]
    log.error('timeout waiting reply for command "%s" from RTPEngine <%s>', command, node.url)
    return None


def _send_local(node: Node, body: bytes) -> bytes | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(max(0.001, settings.tout_ms / 1000.0))
    try:
        try:
            s.connect(node.address)
        except OSError:
            log.error("can't connect to RTPEngine <%s>", node.url)
            return None
        try:
            s.sendall(body)
        except OSError:
            log.error("can't send command to RTPEngine <%s>", node.url)
            return None
        try:
            data = s.recv(_MAX_REPLY)
        except OSError:
            data = b""
        if not data:
            log.error("can't read reply from RTPEngine <%s>", node.url)
            return None
        return data
    finally:
        s.close()


def _command_name(request) -> str:
    items = request.items() if isinstance(request, dict) else request
    for k, v in items:
        if k == "command":
            return v
    return ""
