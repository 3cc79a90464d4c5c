"""What every process knows about the TCP/TLS connections (Kamailio: tcp_conn.h, the
connection hash tables tcp_main keeps in shm).

Made by the master before the fork (init()), so every process reaches the same
tables:

  conns     conid -> [owner, proto, peer ip, peer port, local ip, local port, created,
            listen-socket index, flags]  (the C header's expiry is the lifetime's end)
  aliases   "proto|ip|port" -> conid: where a send to that address goes (the peer's
            address of each connection, plus tcp_accept_aliases / force_tcp_alias ones)
  counters  next conid, open connections (tcp, tls, ws, wss), per reader the number it
            owns (tcp_main gives a new connection to the least loaded one)
  ctrl      one unix datagram socket pair per TCP reader: anybody writes a command
            ("adopt this fd", "send these bytes on conid N", "own this connection
            I opened")
            to ctrl_out[i]; reader i reads ctrl_in[i]. A connection lives in the
            reader that owns it for its whole life (a TLS session's state is in that
            process' memory and cannot move), so a send from any other process -- a
            UDP worker relaying a reply, the timer retransmitting -- goes there.
"""

from __future__ import annotations

import socket
import struct

import msgpack

from ..sip.msg import PROTO_TCP, PROTO_TLS, PROTO_WS, PROTO_WSS

C_NEXT_ID = 0
C_OPEN = 1          # all open connections (tcp_max_connections counts these)
C_TCP, C_TLS, C_WS, C_WSS = 2, 3, 4, 5
C_OWNED = 6         # + reader index

PROTO_COUNTER = {PROTO_TCP: C_TCP, PROTO_TLS: C_TLS, PROTO_WS: C_WS, PROTO_WSS: C_WSS}

# a record's fields
F_OWNER, F_PROTO, F_PEER_IP, F_PEER_PORT, F_LOCAL_IP, F_LOCAL_PORT, F_CREATED, F_SOCK, F_FLAGS = range(9)
FLAG_OUTGOING = 1   # we connected it (Kamailio's "outgoing" connection)
FLAG_CLOSE = 2      # set_forward_close()/set_reply_close(): close after the next send

CTRL_BUF = 1 << 20  # room for many queued commands; a command holds at most one message

CMD_ADOPT = b"A"    # tcp_main -> reader: an accepted connection (fd attached)
CMD_SEND = b"S"     # anybody -> owner: bytes for conid
CMD_SEND_CLOSE = b"Z"  # anybody -> owner: bytes for conid, then close it (SND_F_CON_CLOSE)
CMD_ADOPT_OUT = b"N"  # a sender -> reader: a connection it opened and wrote on (fd attached)
CMD_CLOSE = b"X"    # anybody -> owner: close conid
CMD_OPTION = b"O"   # anybody -> owner: msgpack [name, value...] (tcpops: lifetime, keepalive)

_HDR = struct.Struct("!cQ")   # command, conid


class TcpState:
    def __init__(self, readers: int, size_log2: int = 12):
        from ..mem.counters import CounterArray
        from ..mem.htable import SharedHashTable
        self.readers = readers
        self.conns = SharedHashTable(size_log2, name="tcp connections")
        self.aliases = SharedHashTable(size_log2, name="tcp aliases")
        self.counters = CounterArray(C_OWNED + readers)
        self.ctrl_in: list[socket.socket] = []
        self.ctrl_out: list[socket.socket] = []
        for _ in range(readers):
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            for s in (a, b):
                for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                    try:
                        s.setsockopt(socket.SOL_SOCKET, opt, CTRL_BUF)
                    except OSError:
                        pass
            # the writing end is shared by every process: non-blocking there, and a
            # full queue is waited for with a bound (tcp_send_timeout) by the sender
            b.setblocking(False)
            self.ctrl_in.append(a)
            self.ctrl_out.append(b)

    # ------------------------------------------------------------------ ids
    def new_conid(self) -> int:
        return self.counters.add(C_NEXT_ID, 1)

    # ------------------------------------------------------------------ records
    @staticmethod
    def conn_key(conid: int) -> bytes:
        return b"c%d" % conid

    @staticmethod
    def alias_key(proto: int, ip: str, port: int) -> bytes:
        return b"%d|%s|%d" % (proto, ip.encode(), port)

    def record(self, conid: int):
        raw = self.conns.get(self.conn_key(conid))
        return msgpack.unpackb(raw) if raw is not None else None

    def put_record(self, conid: int, rec: list, expires: float):
        self.conns.put(self.conn_key(conid), msgpack.packb(rec), expires)

    def find(self, proto: int, ip: str, port: int) -> int:
        raw = self.aliases.get(self.alias_key(proto, ip, port))
        return int(raw) if raw is not None else 0

    def add_alias(self, proto: int, ip: str, port: int, conid: int):
        self.aliases.put(self.alias_key(proto, ip, port), b"%d" % conid)

    def drop_alias(self, proto: int, ip: str, port: int, conid: int):
        # only if it still points at this connection: a newer one may have taken it
        key = self.alias_key(proto, ip, port)
        if self.aliases.get(key) == b"%d" % conid:
            self.aliases.delete(key)

    def all_records(self):
        for key, raw in self.conns.items():
            yield int(key[1:]), msgpack.unpackb(raw)

    # ------------------------------------------------------------------ commands
    @staticmethod
    def pack_cmd(cmd: bytes, conid: int, payload: bytes = b"") -> bytes:
        return _HDR.pack(cmd, conid) + payload

    @staticmethod
    def unpack_cmd(data: bytes):
        cmd, conid = _HDR.unpack_from(data)
        return cmd, conid, data[_HDR.size:]


state: TcpState | None = None   # set in the master when a tcp/tls listen exists


def init(readers: int) -> TcpState:
    global state
    state = TcpState(readers)
    return state
