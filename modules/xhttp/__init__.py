"""xhttp: HTTP requests on the TCP/TLS listeners run event_route[xhttp:request]
(Kamailio's xhttp module).

The TCP reader recognises a request whose first line ends in HTTP/1.0 or HTTP/1.1
and hands it here instead of to request_route (the UDP path never looks). Framing
is the SIP stream framing: a GET without Content-Length needs
tcp_accept_no_cl=yes, as in Kamailio. The request is a SipMsg, so $hdr(...), $rb,
$si, $sp, $rm work; $hu is the URL. url_skip / url_match (regular expressions) pick
which URLs reach the route; xhttp_reply(code, reason, ctype, body) answers on the
connection with the lines Kamailio writes (its fake "Sia" Via included).
"""

from __future__ import annotations

import logging
import re

from kamapy.module import EVENT_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.pv.base import fn_pv
from kamapy.pv.registry import PvDef

from . import api

log = logging.getLogger("kamapy.xhttp")

EVENT = "xhttp:request"
REPLIED = "xhttp.replied"
_url = {"skip": None, "match": None}


def _compile(name):
    text = exports.param(name)
    if not text:
        return None
    try:
        return re.compile(str(text))
    except re.error as e:
        from kamapy.loader import ModuleLoadError, Problem
        raise ModuleLoadError([Problem(f"xhttp: bad {name} regular expression {text!r}: {e}")]) from None


def mod_init():
    from kamapy.net import tcp_reader
    _url["skip"] = _compile("url_skip")
    _url["match"] = _compile("url_match")
    tcp_reader.http_handler = handle
    return 0


def handle(frame: bytes, rcv, conn) -> None:
    """One HTTP request read off connection conn (in its reader)."""
    from kamapy.cfg.run_context import run_route
    from kamapy.runtime import rt
    from kamapy.sip.errors import SipParseError
    from kamapy.sip.msg import SipMsg
    try:
        msg = SipMsg(frame, rcv)   # not parse_received: a short GET is no UDP probe
        _ = msg.headers
    except SipParseError as e:
        log.error("xhttp: bad HTTP request from %s:%d: %s", rcv.src_ip, rcv.src_port, e.reason)
        return
    url = msg.ruri or ""
    skip, match = _url["skip"], _url["match"]
    if (skip is not None and skip.search(url)) or (match is not None and not match.search(url)):
        log.debug("xhttp: %s is not for the event route (url_skip / url_match)", url)
        return
    route = getattr(rt.routes, "event", {}).get(EVENT) if rt.routes is not None else None
    if route is None:
        log.error("xhttp: no event_route[xhttp:request]; %s %s not answered", msg.method, url)
        return
    try:
        run_route(route, msg, EVENT_ROUTE)
    except Exception:
        log.exception("event_route[xhttp:request] failed for %s", url)


def build_reply(msg, code: int, reason: str, ctype: str, body: bytes) -> bytes:
    from kamapy.runtime import rt
    rcv = msg.rcv
    proto = {2: "TCP", 3: "TLS", 5: "WS", 6: "WSS"}.get(rcv.proto, "TCP")
    lines = [f"{msg.version or 'HTTP/1.1'} {code} {reason}",
             # Kamailio builds the reply with its SIP reply code, from a Via it adds first
             f"Sia: SIP/2.0/{proto} {rcv.src_ip}:{rcv.src_port}"]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    if rt.server_header:
        lines.append(rt.server_header)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def send_reply(msg, code: int, reason: str, ctype: str, body) -> int:
    from kamapy.net import tcp_send
    if msg.module_data.get(REPLIED):
        log.error("xhttp: the request was already answered")
        return -1
    body = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    data = build_reply(msg, code, reason, ctype, body)
    rcv = msg.rcv
    ok = tcp_send.send(rcv.proto, data, rcv.src_ip, rcv.src_port, rcv.sock, getattr(rcv, "con_id", 0),
                       msg.rpl_send_flags)
    msg.module_data[REPLIED] = True
    return 1 if ok else -1


def mark_replied(msg) -> None:
    """The request is answered (websocket sent its 101 itself): xhttp_reply refuses a second."""
    msg.module_data[REPLIED] = True


def w_xhttp_reply(msg, code, reason, ctype, body) -> int:
    try:
        code = int(code)
    except (TypeError, ValueError):
        log.error("xhttp_reply: bad code %r", code)
        return -1
    return send_reply(msg, code, str(reason), str(ctype or ""), body if body is not None else "")


def http_url(msg):
    """$hu: the URL of the HTTP request."""
    return msg.ruri if msg.rcv is not None and msg.rcv.proto != 1 else None


exports = ModuleExports(
    name="xhttp",
    params=[Param("url_skip", str, None), Param("url_match", str, None),
            Param("event_callback", str, None)],
    functions=[Function("xhttp_reply", w_xhttp_reply,
                        (Arg("igp"), Arg("spve"), Arg("spve"), Arg("spve")), EVENT_ROUTE)],
    pvs=[PvDef("hu", fn_pv("HttpUrlPv", http_url))],
    event_routes=[EVENT],
    mod_init=mod_init,
    api=api.make(),  # bind_xhttp: reply() for jsonrpcs, websocket, xhttp_prom
    doc=__doc__,
)
