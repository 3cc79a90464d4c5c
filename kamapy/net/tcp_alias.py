"""force_tcp_alias([port]) / add_tcp_alias([port]) (Kamailio's core action,
tcpconn_add_alias): from now on a send to <source ip>:<port> over this protocol goes
on the connection the request came in on instead of opening a new one -- for a UA
that listens on its Via port but sends from an ephemeral one (NAT, firewalls).

The port is the argument, else the top Via's port, else 5060 (5061 for TLS). Only
TCP and TLS messages (as in Kamailio 5.6, WebSocket ones are left alone, returning
true). The alias lives while the connection does; a newer connection claiming the
same alias takes it (Kamailio's default tcp_alias_flags, TCP_ALIAS_FORCE_ADD: the
newest entry is found first).
"""

from __future__ import annotations

import logging

from ..sip.msg import PROTO_TCP, PROTO_TLS
from . import tcp_send

log = logging.getLogger("kamapy.tcp")


def force_tcp_alias(msg, port: int | None = None) -> int:
    rcv = msg.rcv
    if rcv is None or rcv.proto not in (PROTO_TCP, PROTO_TLS):
        return 1
    if port is None:
        via = msg.via1
        port = via.port if via is not None else 0
    if not port:
        port = 5061 if rcv.proto == PROTO_TLS else 5060
    if not 0 < port < 65536:
        log.error("force_tcp_alias: bad port %d", port)
        return -1
    reader = tcp_send.reader
    conn = reader.conns.get(getattr(rcv, "con_id", 0)) if reader is not None else None
    if conn is None:
        # the script runs where the connection is read; elsewhere (a resumed
        # transaction) there is no connection of ours to alias
        log.error("force_tcp_alias: no connection found for id %d", getattr(rcv, "con_id", 0))
        return -1
    if not reader.add_alias(conn, port):
        log.error("force_tcp_alias: too many aliases for connection %d (%s:%d <- %d)",
                  conn.conid, conn.peer_ip, conn.peer_port, port)
        return -1
    return 1
