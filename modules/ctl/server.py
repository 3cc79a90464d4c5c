"""The ctl sockets and the "ctl handler" process that serves binrpc on them
(Kamailio: ctl's ctrl_socks.c, init_socks.c, io_listener.c, binrpc_run.c).

The master creates and binds every socket in mod_init (a bad address stops the
start); the ctl handler process watches them all in one select loop: it accepts
stream connections (unix stream, TCP) and keeps them open for as many requests as
the client sends (kamcmd's interactive mode uses one connection), and answers
datagrams (unix datagram, UDP) to their sender. Each request runs a command of
kamapy's RPC registry, the same ones jsonrpcs serves.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import stat
from dataclasses import dataclass

from kamapy.rpc import RpcError, run_deferred
from kamapy.rpc.context import RpcContext
from kamapy.rpc.errors import STANDARD_MESSAGES

from . import binrpc

log = logging.getLogger("kamapy.ctl")

UNIXS, UNIXD, UDP, TCP = "unixs", "unixd", "udp", "tcp"
DEFAULT_PORT = 2049
TRANSPORT_NAMES = {UNIXS: "unix_stream", UNIXD: "unix_dgram", UDP: "udp", TCP: "tcp"}
MAX_DGRAM = 65535
MAX_STREAM_PACKET = 4 * 1024 * 1024
MAX_CONNECTIONS = 128            # Kamailio's MAX_IO_READ_CONNECTIONS
SEND_TIMEOUT = 5.0
POLL_INTERVAL = 0.5
TRANSPORT_BINRPC = "binrpc"


@dataclass
class ListenId:
    proto: str
    name: str         # path or host ("*" for any)
    port: int = 0

    def __str__(self):
        if self.proto in (UNIXS, UNIXD):
            return f"{self.proto}:{self.name}"
        return f"{self.proto}:{self.name}:{self.port}"


def parse_listen_id(text: str, default: str = UNIXS) -> ListenId:
    """A binrpc parameter value: [proto:]path|[host:]port (README 3.1): unix, unixs,
    unixd, udp, tcp; no proto: a path is a unix stream socket, host:port UDP."""
    s = text.strip()
    if not s:
        raise ValueError("empty binrpc address")
    proto = None
    rest = s
    head, sep, tail = s.partition(":")
    if sep and not s.startswith("["):
        low = head.lower()
        if low == "tcp":
            proto, rest = TCP, tail
        elif low == "udp":
            proto, rest = UDP, tail
        elif low == "unixd":
            proto, rest = UNIXD, tail
        elif low in ("unix", "unixs"):
            proto, rest = UNIXS, tail
        elif low == "fifo":
            raise ValueError("the fifo protocol is not supported by kamapy's ctl (use binrpc or jsonrpcs)")
    if proto in (UNIXS, UNIXD):
        if not rest:
            raise ValueError(f"bad binrpc address {text!r}: no socket path")
        return ListenId(proto, rest)
    # host[:port], [v6]:port, or a port alone
    host, port_s = rest, ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"bad binrpc address {text!r}")
        host, after = rest[1:end], rest[end + 1:]
        if after.startswith(":"):
            port_s = after[1:]
        elif after:
            raise ValueError(f"bad binrpc address {text!r}")
    elif ":" in rest:
        host, _, port_s = rest.partition(":")
    if proto is None:
        if port_s:
            proto = UDP
        elif "/" in host:
            return ListenId(UNIXS, host)
        else:
            proto = default
            if proto in (UNIXS, UNIXD):
                return ListenId(proto, host)
    port = 0
    if port_s:
        try:
            port = int(port_s)
        except ValueError:
            try:
                port = socket.getservbyname(port_s, "tcp" if proto == TCP else "udp")
            except OSError:
                raise ValueError(f"bad port {port_s!r} in binrpc address {text!r}") from None
    elif host.isdigit():
        port, host = int(host), "*"
    if not 0 <= port <= 65535:
        raise ValueError(f"bad port {port} in binrpc address {text!r}")
    return ListenId(proto, host or "*", port or DEFAULT_PORT)


class CtlSocket:
    def __init__(self, lid: ListenId):
        self.id = lid
        self.sock: socket.socket | None = None

    @property
    def path(self) -> str | None:
        return self.id.name if self.id.proto in (UNIXS, UNIXD) else None

    def create(self, mode: int, uid: int, gid: int):
        lid = self.id
        if lid.proto in (UNIXS, UNIXD):
            kind = socket.SOCK_STREAM if lid.proto == UNIXS else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_UNIX, kind)
            try:
                parent = os.path.dirname(lid.name)
                if parent and not os.path.isdir(parent):
                    os.makedirs(parent, mode=0o755, exist_ok=True)
                try:
                    if stat.S_ISSOCK(os.lstat(lid.name).st_mode):
                        os.unlink(lid.name)   # left by an earlier run (Kamailio unlinks too)
                except FileNotFoundError:
                    pass
                sock.bind(lid.name)
                if mode:
                    os.chmod(lid.name, mode)
                if uid != -1 or gid != -1:
                    os.chown(lid.name, uid, gid)
                if kind == socket.SOCK_STREAM:
                    sock.listen(128)
            except BaseException:
                sock.close()
                raise
        else:
            host = "" if lid.name in ("*", "") else lid.name
            infos = socket.getaddrinfo(host or "0.0.0.0", lid.port,
                                       type=socket.SOCK_STREAM if lid.proto == TCP else socket.SOCK_DGRAM)
            family, kind, _p, _c, addr = infos[0]
            sock = socket.socket(family, kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(addr)
                if lid.proto == TCP:
                    sock.listen(128)
            except BaseException:
                sock.close()
                raise
        sock.setblocking(False)
        self.sock = sock

    def close(self, unlink: bool):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if unlink and self.path:
            try:
                if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                    os.unlink(self.path)
            except OSError:
                pass

    def listen_row(self) -> list[str]:
        """ctl.listen's four strings for this socket."""
        lid = self.id
        if lid.proto in (UNIXS, UNIXD):
            return ["binrpc", TRANSPORT_NAMES[lid.proto], lid.name, ""]
        host = "0.0.0.0" if lid.name == "*" else lid.name
        return ["binrpc", TRANSPORT_NAMES[lid.proto], host, str(lid.port)]


class Connection:
    def __init__(self, sock: socket.socket, parent: CtlSocket, peer):
        self.sock = sock
        self.parent = parent
        self.peer = peer
        self.buf = b""


# ---------------------------------------------------------------------- state of the ctl handler
class Handler:
    """The ctl handler's loop and what ctl.who / ctl.connections read."""

    def __init__(self, sockets: list[CtlSocket], max_body: int, max_struct: int):
        self.sockets = sockets
        self.max_body = max_body
        self.max_struct = max_struct
        self.connections: dict[int, Connection] = {}
        self.current: Connection | None = None    # the stream connection being served
        self.poll_interval = POLL_INTERVAL

    # ------------------------------------------------------------------ one request
    def answer(self, data: bytes, cookie: int) -> tuple[bytes, list]:
        """(reply packet, deferred actions) for the body of one request packet."""
        deferred: list = []
        try:
            method, params = binrpc.split_request(data)
        except binrpc.BinrpcError as e:
            log.error("bad rpc request method, binrpc error: %s", e)
            return binrpc.packet(binrpc.FAULT, binrpc.fault_body(400, f"bad request method: {e}"), cookie), deferred
        from kamapy.rpc.registry import commands
        registry = commands()
        command = registry.lookup(method)
        if command is None:
            return binrpc.packet(binrpc.FAULT, binrpc.fault_body(500, f"command {method} not found"), cookie), deferred
        ctx = RpcContext(method, registry, TRANSPORT_BINRPC)
        try:
            result = command.handler(ctx, params)
        except RpcError as e:
            text = e.message or STANDARD_MESSAGES.get(e.code, "")
            deferred.extend(ctx.deferred)
            return binrpc.packet(binrpc.FAULT, binrpc.fault_body(e.code, text), cookie), deferred
        except Exception:
            log.exception("RPC command %s failed", method)
            return binrpc.packet(binrpc.FAULT, binrpc.fault_body(500, "internal server error"), cookie), deferred
        deferred.extend(ctx.deferred)
        writer = binrpc.ReplyWriter(self.max_body, self.max_struct)
        try:
            body = writer.body(result)
        except binrpc.Overflow as e:
            log.error("binrpc: reply of %s does not fit binrpc_max_body_size (%d bytes)", method, self.max_body)
            return binrpc.packet(binrpc.FAULT, binrpc.fault_body(
                500, f"Internal server error processing '{e}': buffer too small (overflow) (-2)"), cookie), deferred
        if writer.dropped:
            log.error("binrpc: %d member(s) of the reply of %s left out: a struct passed "
                      "binrpc_struct_max_body_size (%d bytes)", writer.dropped, method, self.max_struct)
        return binrpc.packet(binrpc.REPL, body, cookie), deferred

    def process(self, buf: bytes) -> tuple[int, bytes | None, list]:
        """(bytes used, reply or None, deferred) for the start of `buf`; 0 used: need
        more. ValueError for a packet that is not binrpc (the stream is dropped)."""
        try:
            msg_type, body_len, cookie, hdr = binrpc.parse_header(buf)
        except binrpc.NeedMore:
            return 0, None, []
        except binrpc.BinrpcError as e:
            # Kamailio answers a fault and gives up the connection
            return -1, binrpc.packet(binrpc.FAULT, binrpc.fault_body(400, f"bad request: {e}"), 0), []
        if hdr + body_len > MAX_STREAM_PACKET:
            return -1, binrpc.packet(binrpc.FAULT, binrpc.fault_body(400, "bad request: packet too big"), cookie), []
        if len(buf) < hdr + body_len:
            return 0, None, []
        if msg_type != binrpc.REQ:
            return hdr + body_len, binrpc.packet(binrpc.FAULT, binrpc.fault_body(
                400, "bad request: corrupted packet"), cookie), []
        reply, deferred = self.answer(buf[hdr:hdr + body_len], cookie)
        return hdr + body_len, reply, deferred

    # ------------------------------------------------------------------ the loop
    def serve(self, should_stop):
        sel = selectors.DefaultSelector()
        for cs in self.sockets:
            sel.register(cs.sock, selectors.EVENT_READ, cs)
        try:
            while not should_stop():
                try:
                    events = sel.select(self.poll_interval)
                except InterruptedError:
                    continue
                for key, _mask in events:
                    obj = key.data
                    if isinstance(obj, Connection):
                        self._read_stream(sel, obj)
                    elif obj.id.proto in (UNIXS, TCP):
                        self._accept(sel, obj)
                    else:
                        self._read_dgram(obj)
        finally:
            for conn in list(self.connections.values()):
                self._drop(sel, conn)
            sel.close()

    def _accept(self, sel, cs: CtlSocket):
        try:
            sock, peer = cs.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log.error("ctl: accept on %s failed: %s", cs.id, e.strerror)
            return
        if len(self.connections) >= MAX_CONNECTIONS:
            log.error("ctl: too many open connections (%d), refusing one on %s", MAX_CONNECTIONS, cs.id)
            sock.close()
            return
        sock.settimeout(SEND_TIMEOUT)
        conn = Connection(sock, cs, peer)
        self.connections[sock.fileno()] = conn
        sel.register(sock, selectors.EVENT_READ, conn)

    def _drop(self, sel, conn: Connection):
        self.connections.pop(conn.sock.fileno(), None)
        try:
            sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _read_stream(self, sel, conn: Connection):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError, socket.timeout):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sel, conn)
            return
        conn.buf += data
        while conn.buf:
            self.current = conn
            try:
                used, reply, deferred = self.process(conn.buf)
            finally:
                self.current = None
            if reply is not None:
                try:
                    conn.sock.sendall(reply)
                except OSError as e:
                    log.error("ctl: send failed on %s: %s", conn.parent.id, e)
                    used = -1
            run_deferred(deferred)
            if used < 0:
                self._drop(sel, conn)
                return
            if used == 0:
                return
            conn.buf = conn.buf[used:]

    def _read_dgram(self, cs: CtlSocket):
        try:
            data, addr = cs.sock.recvfrom(MAX_DGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log.error("ctl: recvfrom on %s: %s", cs.id, e.strerror)
            return
        used, reply, deferred = self.process(data)
        if used == 0:
            log.error("ctl: truncated binrpc datagram on %s (%d bytes)", cs.id, len(data))
            return
        if reply is not None:
            if not addr:
                log.error("ctl: datagram request from an unbound socket: no address to reply to")
            else:
                try:
                    cs.sock.sendto(reply, addr)
                except OSError as e:
                    log.error("ctl: failed to send the reply (%d bytes) to %s: %s",
                              len(reply), addr, e.strerror)
        run_deferred(deferred)

    # ------------------------------------------------------------------ ctl.who
    def who_rows(self) -> list[list[str]]:
        rows = []
        for conn in self.connections.values():
            cs = conn.parent
            if cs.id.proto == TCP:
                try:
                    local = conn.sock.getsockname()
                except OSError:
                    local = ("", 0)
                peer = conn.peer if isinstance(conn.peer, tuple) else ("", 0)
                rows.append(["binrpc", "tcp", str(peer[0]), str(peer[1]), str(local[0]), str(local[1])])
            else:
                rows.append(["binrpc", TRANSPORT_NAMES[cs.id.proto], "<anonymous unix socket>", "",
                             cs.id.name, ""])
        return rows
