"""A TCP reader process (Kamailio: tcp_read.c tcp_receive_loop): owns the connections
tcp_main gave it or that it opened, reads SIP messages off them and runs each one
like a UDP worker does, and writes what anybody wants sent on them.

One selector loop over: its command socket (new connections from tcp_main with the
file descriptor attached, bytes to send, connects, closes) and its connections. TLS
handshakes run here, non-blocking, in the reader that owns the connection: a slow or
stalled handshake waits in the selector and costs the other connections nothing,
and the TLS session stays in the one process that will ever read or write it.

Per connection: a Framer (Content-Length framing, CRLF ping/pong), a write queue
bounded by tcp_conn_wq_max, and three clocks: tcp_connect_timeout while
connecting, tcp_send_timeout while bytes wait to be written, tcp_connection_lifetime
since the last read or write.
"""

from __future__ import annotations

import array
import errno
import logging
import selectors
import socket
import ssl
import time

import msgpack

from ..runtime import rt
from ..sip.msg import PROTO_TCP, PROTO_TLS, RecvInfo
from . import tcp_connect, tcp_send, tcp_state, tcp_tune, tls_hooks
from .poller import Poller
from .tcp_framing import MSG, PING, Framer, FramingError
from .tcp_state import (
    C_OPEN,
    C_OWNED,
    CMD_ADOPT,
    CMD_ADOPT_OUT,
    CMD_CLOSE,
    CMD_OPTION,
    CMD_SEND,
    CMD_SEND_CLOSE,
    F_OWNER,
    F_PEER_IP,
    F_PEER_PORT,
    F_PROTO,
    FLAG_OUTGOING,
    PROTO_COUNTER,
)

log = logging.getLogger("kamapy.tcp")

CONNECTING, HANDSHAKE, OPEN = "connecting", "handshake", "open"

# set by the xhttp module: handler(frame, rcv, conn) for HTTP requests read off a
# connection (the first line ends in HTTP/1.x); None = they go to request_route
http_handler = None

# set by the websocket module: (mechanism 1 ping / 2 pong, idle seconds, application
# data) for keepalives on idle WebSocket connections; None = none
ws_keepalive = None


def ws_stat(name: str, n: int = 1):
    """The websocket module's statistic `name` (nothing when it is not loaded)."""
    st = _ws_stats.get(name)
    if st is None:
        from .. import stats
        st = _ws_stats[name] = stats.stat("websocket", name) or _NoStat()
    st.inc(n)


class _NoStat:
    def inc(self, n=1):
        pass


_ws_stats: dict = {}


def _is_http(frame: bytes) -> bool:
    end = frame.find(b"\r\n", 0, 8192)
    line = frame[:end] if end > 0 else frame[:8192]
    return line.endswith((b" HTTP/1.1", b" HTTP/1.0"))
CMD_BUF = 1 << 18
_ANC_ONE_FD = socket.CMSG_LEN(array.array("i").itemsize)
TICK = 0.5
MAX_ALIASES = 4     # per connection, its own address included (Kamailio: 12 entries / 3)


class TcpRecvInfo(RecvInfo):
    """RecvInfo of a message read from a connection: its id is $conid."""

    __slots__ = ("con_id",)

    def __init__(self, src_ip, src_port, dst_ip, dst_port, proto, sock, con_id):
        RecvInfo.__init__(self, src_ip, src_port, dst_ip, dst_port, proto, sock)
        self.con_id = con_id


class Conn:
    __slots__ = ("conid", "sock", "proto", "peer_ip", "peer_port", "local_ip", "local_port",
                 "si", "sock_index", "framer", "wq", "wq_since", "state", "created", "last_io",
                 "synced", "outgoing", "events", "aliases", "close_after", "partial_since", "ws", "ws_parts",
                 "lifetime")

    def __init__(self, conid, sock, proto, peer, local, si, sock_index, framer, outgoing):
        self.conid = conid
        self.sock = sock
        self.proto = proto
        self.peer_ip, self.peer_port = peer
        self.local_ip, self.local_port = local
        self.si = si
        self.sock_index = sock_index
        self.framer = framer
        self.wq = bytearray()
        self.wq_since = 0.0
        self.state = OPEN
        self.created = self.last_io = time.monotonic()
        self.synced = 0.0
        self.outgoing = outgoing
        self.events = 0
        self.aliases = [(proto, self.peer_ip, self.peer_port)]
        self.close_after = False
        self.partial_since = 0.0   # when the message being read began (slowloris bound)
        self.ws = None             # a wsproto Connection once ws_handle_handshake() upgraded it
        self.ws_parts = []
        self.lifetime = 0.0        # tcp_set_connection_lifetime(); 0 = tcp_connection_lifetime


def _param(name, default):
    v = getattr(rt.core, name, None)
    return default if v is None else v


class TcpReader:
    def __init__(self, index: int):
        self.index = index
        self.st = tcp_state.state
        self.sel = Poller()
        self.conns: dict[int, Conn] = {}
        self.ctrl = self.st.ctrl_in[index]
        self._cmd_buf = bytearray(CMD_BUF)
        self._cmd_view = memoryview(self._cmd_buf)
        self.rd_buf = int(_param("tcp_rd_buf_size", 16384))
        self.accept_no_cl = bool(_param("tcp_accept_no_cl", 0))
        self.lifetime = float(_param("tcp_connection_lifetime", 120))
        self.connect_timeout = float(_param("tcp_connect_timeout", 10))
        self.send_timeout = float(_param("tcp_send_timeout", 10))
        self.wq_max = int(_param("tcp_conn_wq_max", 32 * 1024))
        self.crlf_ping = bool(_param("tcp_crlf_ping", 1))
        self.accept_aliases = bool(_param("tcp_accept_aliases", 0))
        # a message must be read whole within these (Kamailio 5.6: 20 s each)
        self.msg_read_timeout = float(_param("tcp_msg_read_timeout", 20))
        self.msg_data_timeout = float(_param("tcp_msg_data_timeout", 20))
        self.next_tick = 0.0
        self._batch = None   # connections written to while a read's messages run
        # conid -> [since, bytes, close]: sent to a connection another process is
        # opening for us, before its descriptor arrived (_park)
        self.parked: dict[int, list] = {}

    # ------------------------------------------------------------------ loop
    def run(self):
        tcp_send.reader = self
        self._forget_dead_predecessor()
        self.ctrl.setblocking(False)
        self.sel.register(self.ctrl.fileno(), selectors.EVENT_READ, None)
        while not rt.stopping:
            try:
                events = self.sel.select(TICK)
            except InterruptedError:
                continue
            for conn, mask in events:
                if conn is None:
                    self._commands()
                else:
                    self._io(conn, mask)
            now = time.monotonic()
            if now >= self.next_tick:
                self.next_tick = now + TICK
                self._timers(now)

    def _forget_dead_predecessor(self):
        """A reader that died left its connections in the tables; they went with it."""
        st = self.st
        for conid, rec in list(st.all_records()):
            # a placeholder is a sender's, on its way here (this reader may start
            # after the first sends)
            pending = len(rec) > tcp_connect.F_STATE and rec[tcp_connect.F_STATE] == tcp_connect.PENDING
            if rec[F_OWNER] == self.index and not pending:
                st.conns.delete(st.conn_key(conid))
                st.drop_alias(rec[F_PROTO], rec[F_PEER_IP], rec[F_PEER_PORT], conid)
                st.counters.add(C_OPEN, -1)
                c = PROTO_COUNTER.get(rec[F_PROTO])
                if c is not None:
                    st.counters.add(c, -1)
        st.counters.set(C_OWNED + self.index, 0)

    # ------------------------------------------------------------------ commands
    def _commands(self):
        for _ in range(256):  # then look at the connections again
            try:
                data, fds = self._recv_cmd()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.error("tcp reader %d: command socket: %s", self.index, e)
                return
            if not data:
                for fd in fds:
                    _close_fd(fd)
                continue
            try:
                cmd, conid, payload = self.st.unpack_cmd(data)
                if cmd == CMD_SEND or cmd == CMD_SEND_CLOSE:
                    if not self.send_local(conid, payload, close=cmd == CMD_SEND_CLOSE):
                        log.warning("tcp: connection %d is gone; %d bytes not sent", conid, len(payload))
                elif cmd == CMD_ADOPT:
                    self._adopt(conid, payload, fds[0] if fds else -1)
                    fds = []
                elif cmd == CMD_ADOPT_OUT:
                    self._adopt_out(conid, payload, fds[0] if fds else -1)
                    fds = []
                elif cmd == CMD_CLOSE:
                    args = msgpack.unpackb(payload) if payload else []
                    self.close_id(conid, "closed on request", *args)
                elif cmd == CMD_OPTION:
                    self.set_option(conid, *msgpack.unpackb(payload))
            except Exception:
                log.exception("tcp reader %d: bad command", self.index)
            for fd in fds:
                _close_fd(fd)

    def _recv_cmd(self) -> tuple[bytes, list[int]]:
        """One command and the descriptor it may carry, into a buffer kept across
        calls: socket.recv_fds allocates CMD_BUF (256 KB) per call, ~11 us of a
        connection's hand-over."""
        n, ancdata, _flags, _addr = self.ctrl.recvmsg_into([self._cmd_buf], _ANC_ONE_FD)
        fds = []
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                arr = array.array("i")
                arr.frombytes(cdata[:len(cdata) - len(cdata) % arr.itemsize])
                fds.extend(arr)
        return bytes(self._cmd_view[:n]), fds

    def _adopt(self, conid: int, payload: bytes, fd: int):
        proto, peer_ip, peer_port, local_ip, local_port, sock_index = msgpack.unpackb(payload)
        if fd < 0:
            self._uncount(proto)
            self.st.counters.add(C_OWNED + self.index, -1)
            return
        # family/type/proto given: no getsockname/getsockopt to find them out
        sock = socket.socket(socket.AF_INET6 if ":" in peer_ip else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=fd)
        sock.setblocking(False)
        si = rt.sockets[sock_index] if 0 <= sock_index < len(rt.sockets) else None
        if not tcp_tune.listeners_tuned:   # else inherited from the listener
            tcp_tune.tune(sock)
        conn = Conn(conid, sock, proto, (peer_ip, peer_port), (local_ip, local_port), si,
                    sock_index, Framer(self.rd_buf, self.accept_no_cl), False)
        if proto == PROTO_TLS:
            ctx = tls_hooks.server_context(si, local_ip, local_port)
            if ctx is None:
                log.error("tls: no server context for %s:%d; closing connection from %s:%d",
                          local_ip, local_port, peer_ip, peer_port)
                sock.close()
                self._uncount(proto)
                self.st.counters.add(C_OWNED + self.index, -1)
                return
            conn.sock = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            conn.state = HANDSHAKE
        self._own(conn, counted=True)
        self._want(conn, selectors.EVENT_READ)

    def _adopt_out(self, conid: int, payload: bytes, fd: int):
        """A connection another process opened and wrote its first bytes on
        (tcp_connect.connect_and_hand_over): ours from now on, with what is left to
        write and what others sent to it meanwhile (parked)."""
        proto, ip, port, local_ip, local_port, sock_index, rest, sent, close = msgpack.unpackb(payload)
        parked = self.parked.pop(conid, None)
        if fd < 0:
            tcp_connect.count(proto, -1)
            tcp_connect.unclaim(proto, ip, port, conid)
            return
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=fd)
        sock.setblocking(False)
        si = rt.sockets[sock_index] if 0 <= sock_index < len(rt.sockets) else None
        conn = Conn(conid, sock, proto, (ip, port), (local_ip, local_port), si, sock_index,
                    Framer(self.rd_buf, self.accept_no_cl), True)
        conn.state = CONNECTING
        conn.wq += rest
        if parked is not None:
            conn.wq += parked[1]
            close = close or parked[2]
        conn.wq_since = conn.created
        conn.close_after = close
        self._own(conn)
        self._start(conn, sent)

    def _start(self, conn: Conn, sent: bool):
        """A new outgoing connection: bytes went out, so the connect is done
        (Kamailio's "quick connect"); else wait for it to be writable."""
        if sent:
            self._connected(conn)
            if conn.close_after and not conn.wq and conn.conid in self.conns:
                self._close_written(conn)
        else:
            self._want(conn, selectors.EVENT_WRITE)

    def _park(self, conid: int, data: bytes, close: bool) -> bool:
        """Bytes for a connection that will be ours once its opener hands it over
        (its placeholder record names us): held until then, at most
        tcp_connect_timeout and tcp_conn_wq_max."""
        rec = self.st.record(conid)
        if rec is None or rec[F_OWNER] != self.index or len(rec) <= tcp_connect.F_STATE \
                or rec[tcp_connect.F_STATE] != tcp_connect.PENDING or tcp_connect.stale(rec):
            return False
        entry = self.parked.get(conid)
        if entry is None:
            entry = self.parked[conid] = [time.monotonic(), bytearray(), False]
        if len(entry[1]) + len(data) > self.wq_max:
            log.error("tcp: %d bytes for connection %d (still being opened) over tcp_conn_wq_max",
                      len(data), conid)
            return False
        entry[1] += data
        entry[2] = entry[2] or close
        return True

    def _own(self, conn: Conn, counted: bool = False):
        st = self.st
        self.conns[conn.conid] = conn
        if not counted:  # tcp_main counts what it hands over, so the next pick sees it
            st.counters.add(C_OWNED + self.index, 1)
        self._sync(conn, time.monotonic())
        st.add_alias(conn.proto, conn.peer_ip, conn.peer_port, conn.conid)

    def _sync(self, conn: Conn, now: float):
        """The shm record other processes read (and core.tcp_list shows)."""
        rec = [self.index, conn.proto, conn.peer_ip, conn.peer_port, conn.local_ip, conn.local_port,
               time.time() - (now - conn.created), conn.sock_index,
               FLAG_OUTGOING if conn.outgoing else 0, conn.state, len(conn.wq)]
        lifetime = conn.lifetime or self.lifetime
        self.st.put_record(conn.conid, rec, time.time() + lifetime - (now - conn.last_io))
        conn.synced = conn.last_io

    def _uncount(self, proto: int):
        self.st.counters.add(C_OPEN, -1)
        c = PROTO_COUNTER.get(proto)
        if c is not None:
            self.st.counters.add(c, -1)

    # ------------------------------------------------------------------ I/O
    def _want(self, conn: Conn, events: int):
        if events == conn.events:
            return
        if conn.events == 0:
            self.sel.register(conn.sock.fileno(), events, conn)
        elif events == 0:
            self.sel.unregister(conn.sock.fileno())
        else:
            self.sel.modify(conn.sock.fileno(), events, conn)
        conn.events = events

    def _io(self, conn: Conn, mask: int):
        if conn.conid not in self.conns:
            return
        if conn.state == CONNECTING:
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.close(conn, f"connect to {conn.peer_ip}:{conn.peer_port} failed: {errno.errorcode.get(err, err)}",
                           level=logging.ERROR)
                return
            self._connected(conn)
            return
        if conn.state == HANDSHAKE:
            self._handshake(conn)
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(conn)
            if conn.conid not in self.conns:
                return
        if mask & selectors.EVENT_READ:
            self._read(conn)

    def _connected(self, conn: Conn):
        if conn.proto == PROTO_TLS:
            ctx = tls_hooks.client_context(conn.si, conn.peer_ip, conn.peer_port)
            if ctx is None:
                self.close(conn, "tls: no client context", level=logging.ERROR)
                return
            name = tls_hooks.server_name(conn.peer_ip, conn.peer_port)
            conn.sock = ctx.wrap_socket(conn.sock, server_side=False, do_handshake_on_connect=False,
                                        server_hostname=name)
            conn.state = HANDSHAKE
            self._handshake(conn)
            return
        conn.state = OPEN
        self._opened(conn)

    def _opened(self, conn: Conn):
        conn.last_io = time.monotonic()
        self._sync(conn, conn.last_io)
        self._want(conn, selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.wq else 0))
        if conn.wq:
            self._flush(conn)

    def _handshake(self, conn: Conn):
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._want(conn, selectors.EVENT_WRITE)
            return
        except (ssl.SSLError, OSError) as e:
            self.close(conn, f"tls handshake with {conn.peer_ip}:{conn.peer_port} failed: {e}",
                       level=logging.ERROR)
            return
        conn.state = OPEN
        tls_hooks.handshake_done(conn)
        self._opened(conn)
        if conn.conid in self.conns and conn.sock.pending():
            self._read(conn)   # records that came with the handshake: no new event for them

    def _read(self, conn: Conn):
        sock = conn.sock
        while True:
            try:
                data = sock.recv(self.rd_buf)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                return
            except ssl.SSLWantWriteError:
                self._want(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
                return
            except (ssl.SSLError, OSError) as e:
                self.close(conn, f"read error: {e}")
                return
            if not data:
                self.close(conn, "closed by the peer", level=logging.DEBUG)
                return
            conn.last_io = time.monotonic()
            if conn.ws is not None:
                self._ws_data(conn, data)
                if conn.conid not in self.conns:
                    return
                if len(data) < self.rd_buf and not (conn.proto == 6 and sock.pending()):
                    return
                continue
            try:
                frames = conn.framer.feed(data)
            except FramingError as e:
                self.close(conn, f"bad stream from {conn.peer_ip}:{conn.peer_port}: {e}",
                           level=logging.ERROR)
                return
            if len(frames) > 1:
                # several messages in one read: what they send on our connections is
                # written once after the batch (one syscall, not one per reply)
                self._batch = batch = set()
                try:
                    for kind, frame in frames:
                        if kind == MSG:
                            self._dispatch(conn, frame)
                        elif kind == PING and self.crlf_ping:
                            self.send_local(conn.conid, b"\r\n")
                finally:
                    self._batch = None
                for c in batch:
                    if c.conid in self.conns:
                        self._flush(c)
                if conn.conid not in self.conns:
                    return
            else:
                for kind, frame in frames:
                    if kind == MSG:
                        self._dispatch(conn, frame)
                    elif kind == PING and self.crlf_ping:
                        self.send_local(conn.conid, b"\r\n")
                    if conn.conid not in self.conns:
                        return
            if conn.framer.partial:
                if not conn.partial_since:
                    conn.partial_since = conn.last_io
            else:
                conn.partial_since = 0.0
            # TLS may hold decrypted bytes the selector will not report
            if not (conn.proto == PROTO_TLS and sock.pending()):
                if len(data) < self.rd_buf:
                    return

    def _dispatch(self, conn: Conn, frame: bytes):
        from ..server.receive import receive_msg
        rcv = TcpRecvInfo(conn.peer_ip, conn.peer_port, conn.local_ip, conn.local_port,
                          conn.proto, conn.si, conn.conid)
        tcp_send.current = rcv
        try:
            if http_handler is not None and conn.ws is None and _is_http(frame):
                http_handler(frame, rcv, conn)
                return
            if self.accept_aliases:
                self._via_alias(conn, frame)
            receive_msg(frame, rcv)
        except Exception:
            log.exception("processing a message from %s:%d failed", conn.peer_ip, conn.peer_port)
        finally:
            tcp_send.current = None

    def _via_alias(self, conn: Conn, frame: bytes):
        """tcp_accept_aliases: a top Via with ;alias makes its sent-by an alias of the
        connection (draft-ietf-sip-connect-reuse, Kamailio's tcpconn_add_alias)."""
        from ..sip.msg import SipMsg
        try:
            via = SipMsg(frame, None).via1
        except Exception:
            return
        if via is None or via.alias is None:
            return
        port = via.port or (5061 if conn.proto == PROTO_TLS else 5060)
        if not self.add_alias(conn, port):
            log.error("too many aliases for connection %d (%s:%d <- %d)", conn.conid,
                      conn.peer_ip, conn.peer_port, port)

    def add_alias(self, conn: Conn, port: int) -> bool:
        """Make <peer ip>:port an alias of conn; False when it has MAX_ALIASES already
        (Kamailio's TCP_CON_MAX_ALIASES: 12 entries, 3 per port, its own included)."""
        key = (conn.proto, conn.peer_ip, port)
        if key in conn.aliases:
            # a newer connection that took it keeps it (as in Kamailio); one that took
            # it and closed left nothing, so it comes back here
            if not self.st.find(*key):
                self.st.add_alias(conn.proto, conn.peer_ip, port, conn.conid)
            return True
        if len(conn.aliases) >= MAX_ALIASES:
            return False
        conn.aliases.append(key)
        self.st.add_alias(conn.proto, conn.peer_ip, port, conn.conid)
        return True

    # ------------------------------------------------------------------ writes
    def send_local(self, conid: int, data: bytes, raw: bool = False, close: bool = False) -> bool:
        """close: set_forward_close()/set_reply_close() -- the connection is closed once
        these bytes (and what was queued before them) are written."""
        conn = self.conns.get(conid)
        if conn is None:
            return self._park(conid, data, close)
        if conn.ws is not None and not raw:
            data = _ws_message(conn, data)
        if close:
            conn.close_after = True
        batch = self._batch
        if batch is not None and conn.state == OPEN and len(conn.wq) + len(data) <= self.wq_max:
            if not conn.wq:
                conn.wq_since = time.monotonic()
            conn.wq += data
            batch.add(conn)
            return True
        if conn.state == OPEN and not conn.wq:
            try:
                n = conn.sock.send(data)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                n = 0
            except (ssl.SSLError, OSError) as e:
                self.close(conn, f"write error: {e}")
                return False
            conn.last_io = time.monotonic()
            if n == len(data):
                if conn.close_after:
                    self._close_written(conn)
                return True
            data = data[n:]
        if len(conn.wq) + len(data) > self.wq_max:
            self.close(conn, f"write queue over tcp_conn_wq_max ({self.wq_max} bytes)", level=logging.ERROR)
            return False
        if not conn.wq:
            conn.wq_since = time.monotonic()
        conn.wq += data
        if conn.state == OPEN:
            self._want(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
        return True

    def _flush(self, conn: Conn):
        while conn.wq:
            try:
                n = conn.sock.send(conn.wq)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                self._want(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
                return
            except (ssl.SSLError, OSError) as e:
                self.close(conn, f"write error: {e}")
                return
            if n <= 0:
                return
            del conn.wq[:n]
            conn.last_io = conn.wq_since = time.monotonic()
        if conn.close_after:
            self._close_written(conn)
            return
        self._want(conn, selectors.EVENT_READ)

    def _close_written(self, conn: Conn):
        """All bytes out on a connection marked close-after-write: close it (Kamailio
        sets the connection bad and EOF to tcp_main; a debug line, as there)."""
        conn.close_after = False
        why = "closed after the write (set_forward_close/set_reply_close)"
        if conn.ws is not None:
            self.close_id(conn.conid, why)
        else:
            self.close(conn, why, level=logging.DEBUG)

    def connect_local(self, proto: int, ip: str, port: int, sock_index: int, data: bytes,
                      close: bool = False) -> bool:
        """A new connection opened (and first written on) here, owned here."""
        st = self.st
        if not tcp_connect.may_connect(ip, port):
            return False
        conid, other = tcp_connect.claim(proto, ip, port, self.index, sock_index)
        if other:
            # open already, or being opened by another process: our bytes go after its
            rec = st.record(other)
            if rec is None:
                return False
            if rec[F_OWNER] == self.index:
                return self.send_local(other, data, close=close)
            return tcp_send.to_reader(rec[F_OWNER], st.pack_cmd(
                CMD_SEND_CLOSE if close else CMD_SEND, other, data))
        if not conid:
            return False
        si = rt.sockets[sock_index] if 0 <= sock_index < len(rt.sockets) else None
        opened = tcp_connect.open_socket(proto, ip, port, si, data)
        if opened is None:
            tcp_connect.unclaim(proto, ip, port, conid)
            self.parked.pop(conid, None)
            return False
        sock, sent = opened
        tcp_connect.count(proto, 1)
        conn = Conn(conid, sock, proto, (ip, port), sock.getsockname()[:2], si, sock_index,
                    Framer(self.rd_buf, self.accept_no_cl), True)
        conn.state = CONNECTING
        conn.wq += data[sent:]
        conn.wq_since = conn.created
        conn.close_after = close
        self._own(conn)
        self._start(conn, bool(sent))
        return True

    # ------------------------------------------------------------------ options
    def set_option(self, conid: int, name: str, *values) -> bool:
        """tcpops on a connection this reader owns: its lifetime, TCP keepalive."""
        conn = self.conns.get(conid)
        if conn is None:
            return False
        try:
            if name == "lifetime":
                conn.lifetime = float(values[0])
                self._sync(conn, time.monotonic())
            elif name == "keepalive":
                enable, idle, count, interval = values
                sock = conn.sock
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if enable else 0)
                if enable:
                    for opt, v in (("TCP_KEEPIDLE", idle), ("TCP_KEEPCNT", count), ("TCP_KEEPINTVL", interval)):
                        if v and hasattr(socket, opt):
                            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), int(v))
            elif name in ("ws_ping", "ws_pong") and conn.ws is not None:
                from wsproto.events import Ping, Pong
                cls = Ping if name == "ws_ping" else Pong
                return self.send_local(conid, conn.ws.send(cls(payload=bytes(values[0]))), raw=True)
            else:
                return False
        except OSError as e:
            log.error("tcp: cannot set %s on connection %d: %s", name, conid, e)
            return False
        return True

    # ------------------------------------------------------------------ WebSocket
    def upgrade_ws(self, conn: Conn):
        """After ws_handle_handshake() answered 101: frames from now on (RFC 6455), and
        the connection is WS (WSS over TLS) for $proto, aliases and the counters."""
        from wsproto.connection import Connection, ConnectionType

        from ..sip.msg import PROTO_WS, PROTO_WSS
        conn.ws = Connection(ConnectionType.SERVER, trailing_data=bytes(conn.framer.buf))
        conn.framer.buf.clear()
        new = PROTO_WSS if conn.proto == PROTO_TLS else PROTO_WS
        st = self.st
        for proto, ip, port in conn.aliases:
            st.drop_alias(proto, ip, port, conn.conid)
        conn.aliases = [(new, ip, port) for _p, ip, port in conn.aliases]
        for proto, ip, port in conn.aliases:
            st.add_alias(proto, ip, port, conn.conid)
        self._uncount(conn.proto)
        st.counters.add(C_OPEN, 1)
        c = PROTO_COUNTER.get(new)
        if c is not None:
            st.counters.add(c, 1)
        conn.proto = new
        self._sync(conn, time.monotonic())
        ws_stat("ws_successful_handshakes")
        ws_stat("ws_current_connections")

    def _ws_keepalive(self, conn: Conn, ka):
        from wsproto.events import Ping, Pong
        mechanism, _idle, payload = ka
        frame = Ping(payload=payload) if mechanism == 1 else Pong(payload=payload)
        try:
            data = conn.ws.send(frame)
        except Exception:  # a closing connection: nothing to keep alive
            return
        self.send_local(conn.conid, data, raw=True)
        conn.last_io = time.monotonic()   # next one after another idle period

    def _ws_data(self, conn: Conn, data: bytes):
        from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
        from wsproto.utilities import RemoteProtocolError
        try:
            conn.ws.receive_data(data)
            events = list(conn.ws.events())
        except RemoteProtocolError as e:
            self.close(conn, f"bad websocket frame from {conn.peer_ip}:{conn.peer_port}: {e}",
                       level=logging.ERROR)
            return
        for ev in events:
            if isinstance(ev, (TextMessage, BytesMessage)):
                part = ev.data.encode("utf-8") if isinstance(ev, TextMessage) else bytes(ev.data)
                conn.ws_parts.append(part)
                if sum(len(p) for p in conn.ws_parts) > self.rd_buf:
                    self.close(conn, f"websocket message from {conn.peer_ip}:{conn.peer_port} larger "
                               f"than the read buffer ({self.rd_buf})", level=logging.ERROR)
                    return
                if ev.message_finished:
                    frame = b"".join(conn.ws_parts)
                    conn.ws_parts = []
                    ws_stat("ws_received_frames")
                    if frame == b"\r\n" or frame == b"\r\n\r\n":
                        # RFC 5626 §4.4.1 over WebSocket: Kamailio's ws_frame answers a
                        # CRLF or CRLFCRLF message with a CRLF one of the same opcode
                        pong = TextMessage(data="\r\n") if isinstance(ev, TextMessage) else BytesMessage(data=b"\r\n")
                        self.send_local(conn.conid, conn.ws.send(pong), raw=True)
                    else:
                        self._dispatch(conn, frame)
            elif isinstance(ev, Ping):
                self.send_local(conn.conid, conn.ws.send(ev.response()), raw=True)
            elif isinstance(ev, CloseConnection):
                try:
                    self.send_local(conn.conid, conn.ws.send(ev.response()), raw=True)
                except Exception:
                    pass
                ws_stat("ws_remote_closed_connections")
                if int(ev.code) in (1002, 1003, 1007, 1009):
                    # wsproto's verdict on what the peer sent (unmasked, bad opcode, ...)
                    self.close(conn, f"bad websocket frame from {conn.peer_ip}:{conn.peer_port}: "
                               f"{ev.reason} ({int(ev.code)})", level=logging.ERROR)
                else:
                    self.close(conn, f"websocket closed by the peer ({int(ev.code)})", level=logging.DEBUG)
                return
            if conn.conid not in self.conns:
                return

    # ------------------------------------------------------------------ closing
    def close_id(self, conid: int, why: str, code: int = 1000, reason: str = "Normal closure"):
        conn = self.conns.get(conid)
        if conn is None:
            return
        if conn.ws is not None:
            # a WebSocket says goodbye with a close frame (RFC 6455 5.5.1)
            from wsproto.events import CloseConnection
            try:
                self.send_local(conid, conn.ws.send(CloseConnection(code=code, reason=reason)), raw=True)
            except Exception:
                pass
            ws_stat("ws_local_closed_connections")
        self.close(conn, why)

    def close(self, conn: Conn, why: str, level=logging.INFO):
        if self.conns.pop(conn.conid, None) is None:
            return
        log.log(level, "tcp: closing connection %d (%s %s:%d): %s", conn.conid,
                "tls" if conn.proto == PROTO_TLS else "tcp", conn.peer_ip, conn.peer_port, why)
        if conn.events:
            try:
                self.sel.unregister(conn.sock.fileno())
            except (KeyError, ValueError):
                pass
        try:
            conn.sock.close()
        except OSError:
            pass
        st = self.st
        st.conns.delete(st.conn_key(conn.conid))
        for proto, ip, port in conn.aliases:
            st.drop_alias(proto, ip, port, conn.conid)
        st.counters.add(C_OWNED + self.index, -1)
        self._uncount(conn.proto)
        tls_hooks.closed(conn)
        if conn.ws is not None:
            ws_stat("ws_current_connections", -1)

    # ------------------------------------------------------------------ timers
    def _timers(self, now: float):
        for conid, (since, data, _close) in list(self.parked.items()):
            if now - since > self.connect_timeout:
                del self.parked[conid]
                log.error("tcp: connection %d was never handed over; %d bytes for it dropped",
                          conid, len(data))
        for conn in list(self.conns.values()):
            if conn.state == CONNECTING or (conn.state == HANDSHAKE and conn.outgoing):
                if now - conn.created > self.connect_timeout:
                    self.close(conn, f"connect to {conn.peer_ip}:{conn.peer_port} timed out "
                               f"(tcp_connect_timeout {self.connect_timeout:g} s)", level=logging.ERROR)
                continue
            if conn.wq and now - conn.wq_since > self.send_timeout:
                self.close(conn, f"send timed out (tcp_send_timeout {self.send_timeout:g} s)",
                           level=logging.ERROR)
                continue
            if conn.partial_since:
                limit = self.msg_data_timeout if conn.framer.in_body else self.msg_read_timeout
                if now - conn.partial_since > limit:
                    self.close(conn, f"message from {conn.peer_ip}:{conn.peer_port} not read whole "
                               f"within {limit:g} s (tcp_msg_{'data' if conn.framer.in_body else 'read'}"
                               "_timeout)", level=logging.ERROR)
                    continue
            if now - conn.last_io > (conn.lifetime or self.lifetime):
                self.close(conn, "idle for tcp_connection_lifetime", level=logging.DEBUG)
                continue
            if conn.last_io - conn.synced > 1.0:
                self._sync(conn, now)
            ka = ws_keepalive
            if ka is not None and conn.ws is not None and now - conn.last_io >= ka[1]:
                self._ws_keepalive(conn, ka)


def _ws_message(conn: Conn, data: bytes) -> bytes:
    """A SIP message as one WebSocket frame: text when it is UTF-8 (what browsers'
    SIP stacks expect), binary otherwise."""
    from wsproto.events import BytesMessage, TextMessage
    ws_stat("ws_transmitted_frames")
    try:
        return conn.ws.send(TextMessage(data=data.decode("utf-8")))
    except UnicodeDecodeError:
        return conn.ws.send(BytesMessage(data=data))


def _close_fd(fd: int):
    import os
    try:
        os.close(fd)
    except OSError:
        pass


def reader_loop(index: int):
    TcpReader(index).run()


__all__ = ["TcpReader", "TcpRecvInfo", "reader_loop", "PROTO_TCP"]
