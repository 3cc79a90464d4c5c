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

Keepalives: a WebSocket idle for keepalive_timeout seconds gets a ping
(keepalive_mechanism 1, Kamailio's default) or an unsolicited pong (2) carrying
ping_application_data; 0 turns them off. The TCP reader owning the connection
sends them from its timer, so keepalive_processes and keepalive_interval have
nothing to size. ws_close([code, reason[, conid]]) sends a close frame, then closes.
RPC: ws.dump, ws.close, ws.ping, ws.pong, ws.disable, ws.enable (a disabled server
refuses handshakes with 503). cors_mode: 1 adds "Access-Control-Allow-Origin: *" to
the 101, 2 echoes the request's Origin there (none without one), 0 (default) adds
nothing. The handshake clears set_reply_close() for the 101, as Kamailio does (its
WebRTC example configs call set_reply_close() at the top of the xhttp route).
"""

from __future__ import annotations

import base64
import hashlib
import logging

from kamapy.loader import BoundApi
from kamapy.module import ANY_ROUTE, EVENT_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand

log = logging.getLogger("kamapy.websocket")
_xhttp = BoundApi("xhttp")  # bind_xhttp: its reply path

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   # RFC 6455 section 1.3
SUB_SIP, SUB_MSRP = 1, 2


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def _tokens(value) -> list[str]:
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


def _refuse(msg, code: int, reason: str) -> int:
    from kamapy.net.tcp_reader import ws_stat
    ws_stat("ws_failed_handshakes")
    log.info("websocket handshake from %s:%d refused: %s %s", msg.rcv.src_ip, msg.rcv.src_port,
             code, reason)
    _xhttp().reply(msg, code, reason, "", "")
    return 0


def ws_handle_handshake(msg) -> int:
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
    if _disabled():
        return _refuse(msg, 503, "Service Unavailable")
    if msg.method != "GET":
        return _refuse(msg, 405, "Method Not Allowed")
    upgrade = _tokens(msg.header_value("Upgrade"))
    connection = _tokens(msg.header_value("Connection"))
    key = (msg.header_value("Sec-WebSocket-Key") or "").strip()
    version = (msg.header_value("Sec-WebSocket-Version") or "").strip()
    if "websocket" not in upgrade or "upgrade" not in connection or not key:
        return _refuse(msg, 400, "Bad Request")
    if version != "13":
        _xhttp().reply(msg, 426, "Upgrade Required", "", "")
        return 0
    offered = _tokens(msg.header_value("Sec-WebSocket-Protocol"))
    wanted = int(exports.param("sub_protocols") or SUB_SIP)
    # sip wins over msrp whatever the client's order (Kamailio's sub_protocol bits)
    protocol = ("sip" if "sip" in offered and wanted & SUB_SIP
                else "msrp" if "msrp" in offered and wanted & SUB_MSRP else None)
    if protocol is None:
        return _refuse(msg, 400, "Unsupported protocol")
    cors = ""
    mode = int(exports.param("cors_mode") or 0)
    origin = (msg.header_value("Origin") or "").strip()
    if mode == 1:
        cors = "Access-Control-Allow-Origin: *\r\n"
    elif mode == 2 and origin:
        cors = f"Access-Control-Allow-Origin: {origin}\r\n"
    from kamapy.core_functions import SND_F_CON_CLOSE
    msg.rpl_send_flags &= ~SND_F_CON_CLOSE   # the connection lives on as a WebSocket
    xhttp = _xhttp()
    reply = xhttp.build_reply(msg, 101, "Switching Protocols", "", b"")
    head, _, _ = reply.partition(b"Content-Length:")
    reply = (head + f"{cors}Sec-WebSocket-Protocol: {protocol}\r\nUpgrade: websocket\r\n"
             f"Connection: upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n"
             "Content-Length: 0\r\n\r\n".encode("latin-1"))
    if not reader.send_local(conid, reply, raw=True):
        return -1
    xhttp.mark_replied(msg)
    reader.upgrade_ws(conn)
    log.debug("websocket connection %d from %s:%d (%s)", conid, conn.peer_ip, conn.peer_port, protocol)
    return 1


def ws_close(msg, code=None, reason=None, conid=None) -> int:
    from kamapy.net import tcp_send
    cid = int(conid) if conid not in (None, "") else getattr(msg.rcv, "con_id", 0)
    code = int(code) if code not in (None, "") else 1000
    reason = str(reason) if reason not in (None, "") else "Normal closure"
    return 1 if cid and tcp_send.close(cid, code, reason) else -1


_enabled = {"flag": None}   # a shared counter: 0 enabled, 1 disabled (ws.disable)


def _disabled() -> bool:
    flag = _enabled["flag"]
    return flag is not None and flag.get(0) != 0


def mod_init():
    from kamapy import __version__
    from kamapy.mem.counters import CounterArray
    from kamapy.net import tcp_reader
    if int(exports.param("cors_mode") or 0) not in (0, 1, 2):
        from kamapy.loader import ModuleLoadError, Problem
        raise ModuleLoadError([Problem(f"websocket: cors_mode is 0, 1 or 2, not {exports.param('cors_mode')}")])
    _enabled["flag"] = CounterArray(1)
    mechanism = int(exports.param("keepalive_mechanism"))
    if mechanism not in (0, 1, 2):
        from kamapy.loader import ModuleLoadError, Problem
        raise ModuleLoadError([Problem(f"websocket: keepalive_mechanism is 0, 1 or 2, not {mechanism}")])
    if mechanism:
        data = exports.param("ping_application_data") or f"kamapy {__version__}"
        tcp_reader.ws_keepalive = (mechanism, max(1, int(exports.param("keepalive_timeout"))),
                                   str(data).encode("utf-8")[:125])   # a control frame's limit
    from kamapy import loader
    if not loader.loaded("xhttp"):
        from kamapy.loader import ModuleLoadError, Problem
        raise ModuleLoadError([Problem('websocket: needs the xhttp module (loadmodule "xhttp.so" '
                                       'before it): the handshake is an HTTP request')])
    return 0


# ---------------------------------------------------------------------- RPC
def _ws_connections():
    from kamapy.net import tcp_state
    st = tcp_state.state
    if st is None:
        return []
    return [(conid, rec) for conid, rec in sorted(st.all_records()) if rec[1] in (5, 6)]


def rpc_dump(_rpc, params):
    out = []
    for conid, rec in _ws_connections():
        out.append({"id": conid, "proto": "ws" if rec[1] == 5 else "wss",
                    "src": f"{rec[2]}:{rec[3]}", "dst": f"{rec[4]}:{rec[5]}", "state": "OPEN",
                    "created": int(rec[6])})
    return {"connections": out, "info": {"wscounter": len(out)}}


def _conid_param(rpc, params):
    from kamapy.rpc.errors import RpcError
    try:
        return int(params[0])
    except (IndexError, TypeError, ValueError):
        raise RpcError(500, "Not enough parameters") from None


def rpc_close(rpc, params):
    from kamapy.net import tcp_send
    from kamapy.rpc.errors import RpcError
    conid = _conid_param(rpc, params)
    if not any(c == conid for c, _ in _ws_connections()) or not tcp_send.close(conid, 1000, "Normal closure"):
        raise RpcError(500, "Unknown connection ID")
    return None


def _rpc_control(kind):
    def handler(rpc, params):
        from kamapy.net import tcp_send
        from kamapy.rpc.errors import RpcError
        conid = _conid_param(rpc, params)
        if not any(c == conid for c, _ in _ws_connections()):
            raise RpcError(500, "Unknown connection ID")
        payload = (exports.param("ping_application_data") or "kamapy").encode("utf-8")[:125]
        # the owning reader builds and writes the control frame
        if not tcp_send.set_option(conid, "ws_" + kind, payload):
            raise RpcError(500, "Sending frame")
        return None
    return handler


def rpc_disable(_rpc, _params):
    _enabled["flag"].set(0, 1)
    return None


def rpc_enable(_rpc, _params):
    _enabled["flag"].set(0, 0)
    return None


STATS = ["ws_current_connections", "ws_successful_handshakes", "ws_failed_handshakes",
         "ws_received_frames", "ws_transmitted_frames", "ws_local_closed_connections",
         "ws_remote_closed_connections"]

exports = ModuleExports(
    name="websocket",
    params=[Param("sub_protocols", int, SUB_SIP), Param("keepalive_mechanism", int, 1),
            Param("keepalive_timeout", int, 180), Param("keepalive_interval", int, 1),
            Param("keepalive_processes", int, 1), Param("ping_application_data", str, None),
            Param("cors_mode", int, 0), Param("timer_interval", int, 1)],
    rpc=[RpcCommand("ws.dump", rpc_dump, "Dumps WebSocket connections"),
         RpcCommand("ws.close", rpc_close, "Closes a WebSocket connection"),
         RpcCommand("ws.ping", _rpc_control("ping"), "Sends a ping on a WebSocket connection"),
         RpcCommand("ws.pong", _rpc_control("pong"), "Sends a pong on a WebSocket connection"),
         RpcCommand("ws.disable", rpc_disable, "Disables WebSocket handshakes"),
         RpcCommand("ws.enable", rpc_enable, "Enables WebSocket handshakes")],
    stats=STATS,
    functions=[
        Function("ws_handle_handshake", ws_handle_handshake, (), EVENT_ROUTE),
        Function("ws_close", ws_close, (Arg("igp", optional=True), Arg("spve", optional=True),
                                        Arg("igp", optional=True)), ANY_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
