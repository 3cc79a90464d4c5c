"""A new outgoing TCP/TLS connection, opened by the process that sends (Kamailio:
tcp_main.c tcp_send's connect branch and tcpconn_1st_send).

The sender connects and writes the first bytes itself, so a connect the kernel
refuses at once (nothing listens on a near host: a RST) fails the send in the
process that asked -- t_relay() returns false and tm answers 477 at once, in a UDP
worker as in a TCP reader. A UDP worker (or the timer) then hands the descriptor to
the reader the destination hashes to (SCM_RIGHTS), which owns the connection from
then on; a reader that connects keeps it.

Before connecting, the sender claims the destination's alias for the new
connection (a placeholder record, state "connecting", owner = the reader that will
own it), as Kamailio adds the connection to its hash before connect(): a second
process sending to the same peer meanwhile finds it and hands its bytes to that
reader, which holds them until the descriptor arrives (TcpReader.send_local), so
both messages share one connection.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
import zlib

import msgpack

from ..runtime import rt
from ..sip.msg import PROTO_TLS
from . import tcp_state, tcp_tune
from .tcp_state import C_OPEN, CMD_ADOPT_OUT, F_CREATED, F_OWNER, FLAG_OUTGOING, PROTO_COUNTER

log = logging.getLogger("kamapy.tcp")

PENDING = "pending"   # a placeholder record's state: the socket is still with its opener
F_STATE = 9


def reader_for(ip: str, port: int) -> int:
    """The reader a new connection to ip:port goes to when a non-reader opens it."""
    return zlib.crc32(b"%s|%d" % (ip.encode(), port)) % tcp_state.state.readers


def may_connect(ip: str, port: int) -> bool:
    """tcp_no_connect and tcp_max_connections allow a new connection (logged if not)."""
    if getattr(rt.core, "tcp_no_connect", None):
        log.error("tcp_no_connect: no connection to %s:%d, none opened", ip, port)
        return False
    limit = int(getattr(rt.core, "tcp_max_connections", 2048) or 2048)
    if tcp_state.state.counters.get(C_OPEN) >= limit:
        log.error("tcp_max_connections (%d) reached: cannot open a connection to %s:%d",
                  limit, ip, port)
        return False
    return True


def claim(proto: int, ip: str, port: int, owner: int, sock_index: int) -> tuple[int, int]:
    """(conid, 0): a new connection id that now holds the alias of proto:ip:port, its
    placeholder record owned by `owner`; (0, other): another process claimed it first
    (or a connection is open there), its id."""
    st = tcp_state.state
    conid = st.new_conid()
    now = time.time()
    rec = [owner, proto, ip, port, "", 0, now, sock_index, FLAG_OUTGOING, PENDING, 0]
    st.put_record(conid, rec, now + _connect_timeout() + 1.0)
    key = st.alias_key(proto, ip, port)
    mine = b"%d" % conid
    for _ in range(4):   # bounded: each round either inserts or sees a live claim
        if st.aliases.put_if_absent(key, mine):
            return conid, 0
        raw = st.aliases.get(key)
        if raw is None:
            continue
        other = int(raw)
        rec = st.record(other)
        if rec is not None and not stale(rec):
            st.conns.delete(st.conn_key(conid))
            return 0, other
        # an alias left by a process that died (or its placeholder): take it over
        if st.aliases.replace(key, raw, mine):
            return conid, 0
    st.conns.delete(st.conn_key(conid))
    log.error("tcp: cannot claim the alias of %s:%d", ip, port)
    return 0, 0


def stale(rec) -> bool:
    """A placeholder whose opener never handed the socket over (it died): ignored."""
    return len(rec) > F_STATE and rec[F_STATE] == PENDING and \
        time.time() - rec[F_CREATED] > _connect_timeout() + 1.0


def unclaim(proto: int, ip: str, port: int, conid: int):
    st = tcp_state.state
    st.conns.delete(st.conn_key(conid))
    st.drop_alias(proto, ip, port, conid)


def open_socket(proto: int, ip: str, port: int, si, data: bytes):
    """connect() and the first write (TLS: the connect's error only, its handshake
    comes first). (socket, bytes written) or None when it failed (logged)."""
    af = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(af, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        src = getattr(rt.core, "tcp_source_ipv6" if af == socket.AF_INET6 else "tcp_source_ipv4", None)
        if getattr(rt.core, "tcp_reuse_port", None) and si is not None and si.af == af:
            # tcp_reuse_port: connect from the listen port, so the peer can answer
            # a new request to the address it saw
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((str(src) if src else si.address, si.port))
        elif src:
            sock.bind((str(src), 0))
        elif si is not None and si.af == af and si.address not in ("0.0.0.0", "::"):
            sock.bind((si.address, 0))
        rc = sock.connect_ex((ip, port))
    except OSError as e:
        sock.close()
        log.error("cannot connect to %s:%d: %s", ip, port, e)
        return None
    if rc not in (0, errno.EINPROGRESS):
        sock.close()
        log.error("connect to %s:%d failed: %s", ip, port, errno.errorcode.get(rc, rc))
        return None
    sent, err = _first_send(sock, proto, data)
    if err:
        # the kernel already has the answer (a RST on loopback or a near host): the
        # send fails now, as Kamailio's tcpconn_1st_send
        sock.close()
        log.error("connect & send to %s:%d failed: %s", ip, port, errno.errorcode.get(err, err))
        return None
    tcp_tune.tune(sock)
    return sock, sent


def _first_send(sock, proto: int, data: bytes) -> tuple[int, int]:
    """(bytes written, errno) right after a non-blocking connect: plain TCP writes at
    once (nothing yet while the connect is pending)."""
    if proto == PROTO_TLS:
        return 0, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    try:
        return sock.send(data), 0
    except (BlockingIOError, InterruptedError):
        return 0, 0
    except OSError as e:
        return 0, 0 if e.errno == errno.ENOTCONN else (e.errno or errno.EIO)


def count(proto: int, n: int):
    st = tcp_state.state
    st.counters.add(C_OPEN, n)
    c = PROTO_COUNTER.get(proto)
    if c is not None:
        st.counters.add(c, n)


def connect_and_hand_over(proto: int, ip: str, port: int, si, sock_index: int, data: bytes,
                          close: bool) -> bool:
    """From a process that is no TCP reader: open the connection here, write, and
    give it to its reader. False when the connect or the first write failed."""
    from .tcp_send import to_reader
    st = tcp_state.state
    if not may_connect(ip, port):
        return False
    target = reader_for(ip, port)
    conid, other = claim(proto, ip, port, target, sock_index)
    if other:
        rec = st.record(other)
        if rec is None:
            log.error("tcp: the connection to %s:%d went away", ip, port)
            return False
        cmd = tcp_state.CMD_SEND_CLOSE if close else tcp_state.CMD_SEND
        return to_reader(rec[F_OWNER], st.pack_cmd(cmd, other, data))
    if not conid:
        return False
    opened = open_socket(proto, ip, port, si, data)
    if opened is None:
        unclaim(proto, ip, port, conid)
        return False
    sock, sent = opened
    count(proto, 1)
    local = sock.getsockname()[:2]
    payload = msgpack.packb([proto, ip, port, local[0], local[1], sock_index, data[sent:],
                             bool(sent), close])
    try:
        ok = to_reader(target, st.pack_cmd(CMD_ADOPT_OUT, conid, payload), sock.fileno())
    finally:
        sock.close()   # the reader has its own copy (or nobody does)
    if not ok:
        count(proto, -1)
        unclaim(proto, ip, port, conid)
        return False
    return True


def _connect_timeout() -> float:
    return float(getattr(rt.core, "tcp_connect_timeout", 10) or 10)
