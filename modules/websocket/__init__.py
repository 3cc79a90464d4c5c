"""websocket: SIP over WebSocket (RFC 6455, RFC 7118), Kamailio's websocket module
(first part).

ws_handle_handshake() in event_route[xhttp:request] checks the upgrade request
(Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a key, and a
Sec-WebSocket-Protocol this server speaks -- sub_protocols: 1 sip, 2 msrp), answers
101 Switching Protocols, and turns the connection into a WebSocket one: from then
on the TCP reader that owns it reads frames with wsproto (masking, lengths,
fragmentation, ping/close are its state machine's job; a bad frame closes the
connection with an ERROR line) and every SIP message is one frame; $proto is ws
(wss over TLS), replies and requests to the connection go out framed.

Not built yet: keepalive pings (keepalive_mechanism, ...), cors_mode, the ws.*
RPCs, the statistics; ws_close() only closes the connection (without a close code).
Parameters for them are warned about at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from kamapy.module import ANY_ROUTE, EVENT_ROUTE, Arg, Function, ModuleExports, Param

log = logging.getLogger("kamapy.websocket")

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   # RFC 6455 section 1.3
SUB_SIP, SUB_MSRP = 1, 2


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def _tokens(value) -> list[str]:
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


def _refuse(msg, code: int, reason: str) -> int:
    from kamapy_modules.xhttp import send_reply
    log.info("websocket handshake from %s:%d refused: %s %s", msg.rcv.src_ip, msg.rcv.src_port,
             code, reason)
    send_reply(msg, code, reason, "", "")
    return 0


def ws_handle_handshake(msg) -> int:
    from kamapy_modules.xhttp import REPLIED, build_reply

    from kamapy.net import tcp_send
    reader = tcp_send.reader
    conid = getattr(msg.rcv, "con_id", 0)
    conn = reader.conns.get(conid) if reader is not None else None
    if conn is None:
        log.error("ws_handle_handshake: not an HTTP request on a TCP/TLS connection")
        return -1
    if conn.ws is not None:
        log.error("ws_handle_handshake: connection %d is a WebSocket already", conid)
        return -1
    if msg.method != "GET":
        return _refuse(msg, 405, "Method Not Allowed")
    upgrade = _tokens(msg.header_value("Upgrade"))
    connection = _tokens(msg.header_value("Connection"))
    key = (msg.header_value("Sec-WebSocket-Key") or "").strip()
    version = (msg.header_value("Sec-WebSocket-Version") or "").strip()
    if "websocket" not in upgrade or "upgrade" not in connection or not key:
        return _refuse(msg, 400, "Bad Request")
    if version != "13":
        from kamapy_modules.xhttp import send_reply
        send_reply(msg, 426, "Upgrade Required", "", "")
        return 0
    offered = _tokens(msg.header_value("Sec-WebSocket-Protocol"))
    wanted = int(exports.param("sub_protocols") or SUB_SIP)
    protocol = next((p for p in offered if (p == "sip" and wanted & SUB_SIP)
                     or (p == "msrp" and wanted & SUB_MSRP)), None)
    if protocol is None:
        return _refuse(msg, 400, "Unsupported protocol")
    reply = build_reply(msg, 101, "Switching Protocols", "", b"")
    head, _, _ = reply.partition(b"Content-Length:")
    reply = (head + f"Sec-WebSocket-Protocol: {protocol}\r\nUpgrade: websocket\r\n"
             f"Connection: upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n"
             "Content-Length: 0\r\n\r\n".encode("latin-1"))
    if not reader.send_local(conid, reply, raw=True):
        return -1
    msg.module_data[REPLIED] = True
    reader.upgrade_ws(conn)
    log.debug("websocket connection %d from %s:%d (%s)", conid, conn.peer_ip, conn.peer_port, protocol)
    return 1


def ws_close(msg, code=None, reason=None, conid=None) -> int:
    from kamapy.net import tcp_send
    cid = int(conid) if conid not in (None, "") else getattr(msg.rcv, "con_id", 0)
    return 1 if cid and tcp_send.close(cid) else -1


def mod_init():
    for name in ("keepalive_mechanism", "keepalive_timeout", "keepalive_interval",
                 "keepalive_processes", "ping_application_data", "cors_mode", "timer_interval"):
        if exports.param(name) is not None:
            log.warning("websocket: modparam %s is not implemented by kamapy yet; ignored", name)
    from kamapy import loader
    if not loader.loaded("xhttp"):
        from kamapy.loader import ModuleLoadError, Problem
        raise ModuleLoadError([Problem('websocket: needs the xhttp module (loadmodule "xhttp.so" '
                                       'before it): the handshake is an HTTP request')])
    return 0


exports = ModuleExports(
    name="websocket",
    params=[Param("sub_protocols", int, SUB_SIP), Param("keepalive_mechanism", int, None),
            Param("keepalive_timeout", int, None), Param("keepalive_interval", int, None),
            Param("keepalive_processes", int, None), Param("ping_application_data", str, None),
            Param("cors_mode", int, None), Param("timer_interval", int, None)],
    functions=[
        Function("ws_handle_handshake", ws_handle_handshake, (), EVENT_ROUTE),
        Function("ws_close", ws_close, (Arg("igp", optional=True), Arg("spve", optional=True),
                                        Arg("igp", optional=True)), ANY_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
