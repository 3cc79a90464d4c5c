"""Sending on TCP/TLS from any process (Kamailio: tcp_main.c tcp_send).

Which connection: the one named by conid (a reply, Kamailio's rcv.proto_reserved1),
else the one whose alias is the destination address, else a new one. The bytes then
go to the reader that owns the connection: written at once when that reader is this
process, else handed over as a command on the reader's unix socket (a UDP worker
relaying a reply to a TCP caller, the timer retransmitting). A new connection is
opened by the process that sends, which writes the first bytes itself, so a refused
connect fails this send (kamapy.net.tcp_connect); a non-reader then hands it to the
reader the destination hashes to.
"""

from __future__ import annotations

import logging
import select
import socket
import time

import msgpack

from . import tcp_connect, tcp_state
from .tcp_state import CMD_CLOSE, CMD_SEND, CMD_SEND_CLOSE, F_OWNER

log = logging.getLogger("kamapy.tcp")

# The TcpRecvInfo of the message this process (a TCP reader) is handling now: a reply
# sent back to its source during it leaves on the connection it came in on, as
# Kamailio's replies follow the received message's connection id.
current = None
reader = None       # the TcpReader when this process is one

# send flags (Kamailio's SND_F_*, set by set_{forward,reply}_{no_connect,close}())
SND_F_FORCE_CON_REUSE = 1   # only an open connection: never connect
SND_F_CON_CLOSE = 2         # close the connection once these bytes are written


def _sip_reply(data: bytes) -> bool:
    return data[:8] == b"SIP/2.0 "


def send(proto: int, data: bytes, ip: str, port: int, si=None, conid: int = 0,
         flags: int = 0) -> bool:
    """flags: SND_F_FORCE_CON_REUSE (no new connection), SND_F_CON_CLOSE (close the
    connection after writing data; Kamailio's tcpconn_send_unsafe / tcpconn_1st_send)."""
    st = tcp_state.state
    if st is None:
        log.error("no tcp/tls listen socket: cannot send to %s:%d", ip, port)
        return False
    if not conid:
        cur = current
        if cur is not None and cur.proto == proto and cur.src_ip == ip and _sip_reply(data):
            conid = cur.con_id
    close = bool(flags & SND_F_CON_CLOSE)
    r = reader
    if r is not None and conid in r.conns:
        # this reader's own connection (a reply to what it is reading): no shm look-up
        return r.send_local(conid, data, close=close)
    rec = st.record(conid) if conid else None
    if rec is None:
        conid = st.find(proto, ip, port)
        rec = st.record(conid) if conid else None
        if rec is not None and len(rec) > 9 and rec[9] == tcp_connect.PENDING and tcp_connect.stale(rec):
            rec = None   # its opener died before handing it over
    if rec is not None:
        owner = rec[F_OWNER]
        if r is not None and r.index == owner:
            return r.send_local(conid, data, close=close)
        return to_reader(owner, st.pack_cmd(CMD_SEND_CLOSE if close else CMD_SEND, conid, data))
    if flags & SND_F_FORCE_CON_REUSE:
        log.error("no open connection to %s:%d and set_forward/reply_no_connect(): none opened",
                  ip, port)
        return False
    if proto in (5, 6):
        # WebSocket connections are only ever accepted (Kamailio cannot open them either)
        log.error("no websocket connection to %s:%d (ws connections cannot be opened)", ip, port)
        return False
    if si is None or si.proto != proto:
        from ..runtime import rt
        af = socket.AF_INET6 if ":" in ip else socket.AF_INET
        si = rt.first_socket(proto, af)
        if si is None:
            log.error("no %s socket to open a connection to %s:%d",
                      "tls" if proto == 3 else "tcp", ip, port)
            return False
    from ..runtime import rt
    sock_index = rt.sockets.index(si) if si in rt.sockets else -1
    r = reader
    if r is not None:
        return r.connect_local(proto, ip, port, sock_index, data, close)
    return tcp_connect.connect_and_hand_over(proto, ip, port, si, sock_index, data, close)


def via_id_param(msg) -> str:
    """";i=<conid>" for our Via on a request that came over a connection (Kamailio
    writes it, reverse hex, and finds the connection again by it when the reply is
    relayed statelessly)."""
    cid = getattr(msg.rcv, "con_id", 0)
    if not cid:
        return ""
    from ..sip.reply import reverse_hex
    return ";i=" + reverse_hex(cid)


def conid_from_via(via) -> int:
    """The connection id our Via's i= names (0 when none or unreadable)."""
    text = via.i if via is not None else None
    if not text:
        return 0
    try:
        return int(text[::-1], 16)
    except ValueError:
        return 0


def close(conid: int, code: int = 1000, reason: str = "Normal closure") -> bool:
    """Close a connection wherever it lives (tcp_close_connection, ws_close, ws.close);
    a WebSocket gets a close frame with code and reason first."""
    def here(r):
        r.close_id(conid, "closed on request", code, reason)
        return True
    return _at_owner(conid, here, CMD_CLOSE, msgpack.packb([code, reason]))


def set_option(conid: int, name: str, *values) -> bool:
    """tcpops: a connection option set by its owner (here, or by command)."""
    return _at_owner(conid, lambda r: r.set_option(conid, name, *values),
                     tcp_state.CMD_OPTION, msgpack.packb([name, *values]))


def _at_owner(conid: int, here, cmd: int, payload: bytes) -> bool:
    """here(reader) when this process's reader owns the connection, else the command
    to its owner; False when there is no such connection."""
    st = tcp_state.state
    rec = st.record(conid) if st is not None and conid else None
    if rec is None:
        return False
    r = reader
    if r is not None and r.index == rec[F_OWNER]:
        return here(r)
    return to_reader(rec[F_OWNER], st.pack_cmd(cmd, conid, payload))


def to_reader(index: int, cmd: bytes, fd: int | None = None) -> bool:
    """The command to reader `index`; with fd, that descriptor goes along (a new
    connection handed over, tcp_connect). A full queue is waited for, at most
    tcp_send_timeout; then, or on an error, the command is dropped (False)."""
    st = tcp_state.state
    sock = st.ctrl_out[index]
    deadline = 0.0
    while True:
        try:
            if fd is None:
                sock.send(cmd)
            else:
                socket.send_fds(sock, [cmd], [fd])
            return True
        except BlockingIOError:
            # the reader's queue is full: wait for room, at most tcp_send_timeout
            now = time.monotonic()
            if not deadline:
                deadline = now + send_timeout()
            if now >= deadline:
                log.error("tcp reader %d does not take commands (queue full for %.0f s); "
                          "%s dropped", index, send_timeout(),
                          "message" if fd is None else "new connection")
                return False
            select.select([], [sock], [], min(0.05, deadline - now))
        except OSError as e:
            what = f"{len(cmd)} bytes" if fd is None else "a new connection"
            log.error("cannot hand %s to tcp reader %d: %s", what, index, e)
            return False


def send_timeout() -> float:
    from ..runtime import rt
    return float(getattr(rt.core, "tcp_send_timeout", 10) or 10)
