"""sl: stateless replies (Kamailio: modules/sl).

sl_send_reply(code, reason) answers the current request without creating a
transaction: the reply is built from the request (Vias, From, To with a To-tag for
codes >= 180, Call-ID, CSeq, plus whatever append_to_reply() added) and sent back to
where the request came from. The To-tag is the same for every retransmission of a
request, so an ACK to a stateless reply can be recognised and absorbed.
"""

from __future__ import annotations

import logging

from kamapy import ser_error, stats
from kamapy.loader import bind_api, loaded
from kamapy.module import (
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    PRE_SCRIPT,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    RpcCommand,
    ScriptCallback,
)
from kamapy.net.send import send_to
from kamapy.runtime import rt
from kamapy.sip.methods import METHOD_ACK
from kamapy.sip.msg_flags import FL_FINAL_REPLY, FL_FORCE_RPORT, FL_MSG_NOREPLY
from kamapy.sip.reply import (
    build_reply,
    is_sl_to_tag,
    reply_destination,
    request_to_tag,
    send_sl_reply,
    sl_to_tag,
)

from .api import SLCB_ACK_FILTERED, SLCB_REPLY_READY, SlApi
from .redirect import redirect_contact

log = logging.getLogger("kamapy.sl")

STATS = [
    "1xx_replies", "200_replies", "202_replies", "2xx_replies", "300_replies", "301_replies",
    "302_replies", "3xx_replies", "400_replies", "401_replies", "403_replies", "404_replies",
    "407_replies", "408_replies", "483_replies", "4xx_replies", "500_replies", "5xx_replies",
    "6xx_replies", "xxx_replies", "sent_replies", "sent_err_replies", "failures", "received_ACKs",
]
_EXACT = {200, 202, 300, 301, 302, 400, 401, 403, 404, 407, 408, 483, 500}

# tm's API when sl binds it (modparam bind_tm, Kamailio's sl_bind_tm): send_reply()
# then answers through t_reply when the request has a transaction
_tmb: list = [None]

# sl's callbacks (Kamailio's sl_register_callback): [(types, fn)], fn(request, code, extra)
_callbacks: list[tuple[int, object]] = []
_reply_ready: list = []  # the fns of SLCB_REPLY_READY, walked after each reply


def register_cb(types: int, fn) -> int:
    """Kamailio's sl_register_callback: fn(request, code, extra) on each type in types."""
    if (types, fn) not in _callbacks:
        _callbacks.append((types, fn))
        if types & SLCB_REPLY_READY:
            _reply_ready.append(fn)
    return 0


def mod_init():
    _tmb[0] = None
    if exports.param("bind_tm") and loaded("tm"):
        _tmb[0] = bind_api("tm")
        if _tmb[0] is None:
            log.info("could not bind tm module - only stateless mode available")
    return 0


_counted: dict[int, tuple] = {}  # code -> (the sl group, its counters one reply moves: stats.together)


def _count(code: int):
    g = stats.group("sl")
    if g is None:
        return
    hit = _counted.get(code)
    if hit is None or hit[0] is not g:
        # Kamailio's update_sl_stats: one counter per reply -- the code's own when it
        # has one, else its class's (2xx_replies: 2xx other than 200 and 202); below
        # 200 or from 700 on, xxx_replies (so 1xx_replies stays 0); sent_replies sums
        # them. sent_err_replies is never incremented in 5.6 (always 0), nor here.
        if code < 200 or code >= 700:
            own = "xxx_replies"
        elif code in _EXACT:
            own = f"{code}_replies"
        else:
            own = f"{code // 100}xx_replies"
        hit = _counted[code] = (g, stats.together(g["sent_replies"], g[own]))
    hit[1].inc()


def sl_reply(msg, code: int, reason: str) -> int:
    """Build and send a stateless reply; 1 on success, -1 on failure (Kamailio's codes)."""
    if msg.method_id == METHOD_ACK:
        return -1
    xflags = msg.xflags
    if xflags & FL_MSG_NOREPLY:
        log.info("message marked with no-reply flag")
        return -2
    if not reason:
        log.error("reply reason is null or empty")
        return -1
    if 300 <= code < 400:  # a redirect lists the destination set (added as a lump, as Kamailio does)
        contact = redirect_contact(msg, exports.param("rich_redirect") or 0)
        if contact:
            if msg.reply_lumps is None:
                msg.reply_lumps = []
            msg.reply_lumps.append(contact)
    lumps = msg.reply_lumps
    extra = "".join(lumps) if lumps else ""
    force_rport = bool(xflags & FL_FORCE_RPORT)
    # the usual case in one C call: tag, build, send back where it came from
    sent = send_sl_reply(msg, code, reason, extra, msg.reply_body, rt.server_header, force_rport)
    if sent is None:  # step by step
        to_tag = None
        if code >= 180 and not request_to_tag(msg):  # msg.to_hdr.tag, from the scan
            to_tag = sl_to_tag(msg)
        data = build_reply(msg, code, reason, to_tag, extra, msg.reply_body, rt.server_header, force_rport)
        ip, port = reply_destination(msg, force_rport)
        rcv = msg.rcv
        sent = send_to(rcv.proto, data, ip, port, rcv.sock, 0, msg.rpl_send_flags)  # = net.send.send_reply
    if not sent:
        g = stats.group("sl")
        if g is not None:
            g["failures"].inc()
        return -1
    if code >= 200:
        msg.xflags |= FL_FINAL_REPLY
    hit = _counted.get(code)  # _count(), inlined when the code's counters are known
    if hit is not None and hit[0] is stats.group("sl"):
        hit[1].inc()
    else:
        _count(code)
    for cb in _reply_ready:
        cb(msg, code, extra)
    return 1


def w_sl_send_reply(msg, code, reason: str) -> int:
    # code None: a "$pv" code without an int side (a string such as $hdr's "404"):
    # Kamailio's sl then answers with modparam default_code, keeping the reason
    return sl_reply(msg, int(code) if code is not None else exports.param("default_code"), reason)


def w_send_reply(msg, code, reason: str) -> int:
    code = int(code) if code is not None else exports.param("default_code")  # as w_sl_send_reply
    tmb = _tmb[0]
    if tmb is not None and tmb.has_transaction(msg):
        return tmb.t_reply(msg, code, reason)
    return sl_reply(msg, code, reason)


# the compiler passes None for a "$pv" code without an int side instead of failing the call
w_sl_send_reply.takes_no_int = True
w_send_reply.takes_no_int = True


def w_sl_reply_error(msg) -> int:
    code, phrase = ser_error.err2reason(ser_error.last_error())
    return sl_reply(msg, code, phrase)


def filter_ack(msg) -> bool:
    """Before the script: an ACK to one of sl's own replies (its To-tag is the one sl
    gave that request) is counted and dropped, as Kamailio's sl_filter_ACK does; the
    script never sees it."""
    if msg.method_id != METHOD_ACK:
        return False
    try:
        tag = request_to_tag(msg)
        mine = is_sl_to_tag(msg, tag)
    except Exception:  # an ACK too broken to compute the tag: the script decides
        return False
    if not mine:
        return False
    g = stats.group("sl")
    if g is not None:
        g["received_ACKs"].inc()
    for types, fn in _callbacks:
        if types & SLCB_ACK_FILTERED:
            fn(msg, 0, "")
    return True


def rpc_stats(_rpc, _params):
    g = stats.group("sl")
    return g.values() if g is not None else {}


def _check_code(code) -> int:
    code = int(code)
    if not 100 <= code <= 699:
        raise ValueError("a reply code is 100..699")
    return code


exports = ModuleExports(
    name="sl",
    mod_init=mod_init,
    api=SlApi(sreply=sl_reply, freply=w_send_reply, register_cb=register_cb),  # bind_sl
    script_callbacks=[ScriptCallback(PRE_SCRIPT, filter_ack, methods=METHOD_ACK)],  # the ACK filter (Kamailio's too)
    params=[
        Param("default_code", int, 500),
        Param("default_reason", str, "Internal Server Error"),
        # 0: send_reply() is stateless even when the request has a transaction
        Param("bind_tm", int, 1),
        Param("rich_redirect", int, 0),
        Param("event_callback_fl_ack", str, "", unsupported="KEMI callbacks need a KEMI engine (not built yet)"),
        Param("event_callback_lres_sent", str, "", unsupported="KEMI callbacks need a KEMI engine (not built yet)"),
    ],
    functions=[
        Function("sl_send_reply", w_sl_send_reply, (Arg("igp", fixup=_check_code), Arg("spve")), REQUEST_ROUTE),
        Function("sl_reply", w_sl_send_reply, (Arg("igp", fixup=_check_code), Arg("spve")), REQUEST_ROUTE),
        Function("send_reply", w_send_reply, (Arg("igp", fixup=_check_code), Arg("spve")),
                 REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE),
        Function("sl_reply_error", w_sl_reply_error, (), REQUEST_ROUTE),
        Function("send_reply_error", w_sl_reply_error, (), REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE),
    ],
    rpc=[RpcCommand("sl.stats", rpc_stats, "Print reply statistics.")],
    stats=STATS,
)
