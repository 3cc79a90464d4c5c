"""What a worker does with one received datagram (Kamailio: receive.c receive_msg).

parse -> request_route, or reply_route then the modules' reply hooks (tm) then a
stateless relay of the reply. Nothing here may raise: a malformed message is answered
(400) or dropped with a log line, a failing module is logged, and the worker goes on.
"""

from __future__ import annotations

import logging

from .. import log as kamapy_log
from ..cfg.run_context import RunContext, run_route
from ..mem.shm import ShmCorrupted
from ..module import CORE_ONREPLY_ROUTE, REQUEST_ROUTE
from ..net.data_hooks import data_in as _data_in
from ..net.data_hooks import run_in as _run_in
from ..runtime import rt
from ..ser_error import E_UNSPEC
from ..ser_error import _last as _last_error
from ..sip.errors import SipParseError
from ..sip.methods import (
    METHOD_ACK,
    METHOD_BYE,
    METHOD_CANCEL,
    METHOD_INFO,
    METHOD_INVITE,
    METHOD_KDMQ,
    METHOD_MESSAGE,
    METHOD_NOTIFY,
    METHOD_OPTIONS,
    METHOD_PRACK,
    METHOD_PUBLISH,
    METHOD_REFER,
    METHOD_REGISTER,
    METHOD_SUBSCRIBE,
    METHOD_UPDATE,
)
from ..sip.msg import REQUEST, RecvInfo, SipMsg
from ..sip.receive_checks import parse_received

log = logging.getLogger("kamapy.receive")

_msg_counter = [0]
_core = {}


def core_stat(name: str):
    """The core's counter `name` (rcv_requests ...), looked up once per process."""
    st = _core.get(name)
    if st is None:
        from .. import stats
        st = _core[name] = stats.stat("core", name) or _NoStat()
    return st


class _NoStat:
    def inc(self, n=1):
        pass


# kex's per-method request counters (rcv_requests_invite ...); other methods count as
# unsupported_methods, as Kamailio's kex does for METHOD_OTHER
_METHOD_STATS = {
    METHOD_INVITE: "rcv_requests_invite", METHOD_CANCEL: "rcv_requests_cancel",
    METHOD_ACK: "rcv_requests_ack", METHOD_BYE: "rcv_requests_bye", METHOD_INFO: "rcv_requests_info",
    METHOD_REGISTER: "rcv_requests_register", METHOD_SUBSCRIBE: "rcv_requests_subscribe",
    METHOD_NOTIFY: "rcv_requests_notify", METHOD_MESSAGE: "rcv_requests_message",
    METHOD_OPTIONS: "rcv_requests_options", METHOD_PRACK: "rcv_requests_prack",
    METHOD_UPDATE: "rcv_requests_update", METHOD_REFER: "rcv_requests_refer",
    METHOD_PUBLISH: "rcv_requests_publish", METHOD_KDMQ: "rcv_requests_kdmq",
}
_by_method = {}
_by_status = {}


def _counted(names: list[str]):
    """The core counters `names`, moved by one inc() (kamapy.stats.together)."""
    sts = [st for st in (core_stat(n) for n in names) if not isinstance(st, _NoStat)]
    if not sts:
        return _NoStat()
    from .. import stats
    return stats.together(*sts)  # the ones that exist count, as each did on its own


def _method_stat(method_id: int):
    """rcv_requests and the method's own counter."""
    st = _by_method[method_id] = _counted(
        ["rcv_requests", _METHOD_STATS.get(method_id, "unsupported_methods")])
    return st


def _reply_stats(status: int):
    """rcv_replies and the reply-class counters one status moves (rcv_replies_2xx, and
    _18x for 180-189)."""
    sts = _by_status.get(status)
    if sts is None:
        names = ["rcv_replies"]
        if 1 <= status // 100 <= 6:
            names.append(f"rcv_replies_{status // 100}xx")
        if 180 <= status < 190:
            names.append("rcv_replies_18x")
        sts = _by_status[status] = _counted(names)
    return sts


def _send_reply_bytes(rcv: RecvInfo, data: bytes):
    from ..net.send import send_to
    # RFC 3581: answer where it came from (Kamailio replies to the source for UDP)
    send_to(rcv.proto, data, rcv.src_ip, rcv.src_port, rcv.sock)


def warning_header(text: str) -> str:
    safe = text.replace("\\", "").replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'Warning: 399 kamapy "{safe}"\r\n'


def answer_parse_error(data: bytes, rcv: RecvInfo, err: SipParseError):
    """A 400 where the request is readable enough to answer; otherwise a drop."""
    log.warning("bad message from %s:%d: %s", rcv.src_ip, rcv.src_port, err.reason)
    if err.status is None:
        return
    try:
        msg = SipMsg(data, rcv)
        if msg.type != REQUEST or msg.method == "ACK":
            return
        from ..sip.reply import build_reply, sl_to_tag
        out = build_reply(msg, err.status, "Bad Request", to_tag=sl_to_tag(msg),
                          headers=warning_header(err.reason),
                          server_header=rt.server_header)
    except (SipParseError, ValueError):
        return  # not even a Via to answer to: a drop, as Kamailio does
    _send_reply_bytes(rcv, out)


def internal_error(msg: SipMsg, reason: str):
    """A 500 for a request that failed inside kamapy (shm exhausted, a module bug)."""
    if msg.type != REQUEST or msg.method == "ACK":
        return
    try:
        from ..sip.reply import build_reply, sl_to_tag
        out = build_reply(msg, 500, reason, to_tag=sl_to_tag(msg), server_header=rt.server_header)
    except (SipParseError, ValueError):
        return
    _send_reply_bytes(msg.rcv, out)


def receive_msg(data: bytes, rcv: RecvInfo):
    if rt.log_prefix is None:
        _receive(data, rcv)
        return
    try:
        _receive(data, rcv)
    finally:
        kamapy_log.set_prefix("")


def receiver():
    """What a receive loop calls per message: _receive itself when no log_prefix is set
    (one call less per datagram), else receive_msg, which clears the prefix after each.
    log_prefix is read at start-up only, so a loop asks once."""
    return _receive if rt.log_prefix is None else receive_msg


def _set_log_prefix(msg):
    prefix = rt.log_prefix
    try:
        kamapy_log.set_prefix(prefix if prefix.__class__ is str else prefix(msg))
    except Exception:  # a prefix that cannot be printed must not lose the message
        kamapy_log.set_prefix("")


def _receive(data: bytes, rcv: RecvInfo):
    if _data_in:  # SREV_NET_DATA_IN (net/data_hooks.py): e.g. dialog's track_cseq_updates
        data = _run_in(data)
    try:
        msg = parse_received(data, rcv)
    except SipParseError as err:
        core_stat("bad_msg_hdr").inc()
        answer_parse_error(data, rcv, err)
        return
    _msg_counter[0] = msg.id = _msg_counter[0] + 1
    _last_error[0] = E_UNSPEC  # ser_error.reset(), inlined: every message starts without one
    if rt.log_prefix is not None:
        _set_log_prefix(msg)
    routes = rt.routes
    try:
        if msg.type == REQUEST:
            # rcv_requests and the method's counter
            (_by_method.get(msg.method_id) or _method_stat(msg.method_id)).inc()
            # Kamailio's PRE_SCRIPT_CB (sl's ACK filter), skipped for a method none of
            # them acts on (ScriptCallback.methods)
            if msg.method_id & rt.pre_script_methods:
                for hook in rt.pre_script_hooks:
                    if hook(msg):
                        return
            route = routes.request
            if route is not None:
                msg.ctx = ctx = RunContext(REQUEST_ROUTE)
                route(msg, ctx)  # run_route(route, msg, REQUEST_ROUTE), inlined
            for hook in rt.post_script_hooks:  # Kamailio's POST_SCRIPT_CB for requests
                hook(msg)
            if msg.script_end is not None:  # the ones armed for this request (after_script)
                for fn in msg.script_end:
                    fn(msg)
            return
        # a reply
        (_by_status.get(msg.status) or _reply_stats(msg.status)).inc()  # rcv_replies, its class
        if routes.reply is not None:
            ret = run_route(routes.reply, msg, CORE_ONREPLY_ROUTE)
            if ret < 0:
                # Kamailio (receive.c): a reply_route ending below 0 is an error: the
                # reply goes nowhere, not even to tm
                log.warning("error while trying onreply script")
                return
            if ret == 0 or (msg.ctx is not None and msg.ctx.dropped):
                core_stat("drop_replies").inc()
                return
        for hook in rt.reply_hooks:
            if hook(msg):
                return
        from ..net.forward import forward_reply
        forward_reply(msg)
    except SipParseError as err:
        # a header the script needed turned out malformed (parsing is lazy)
        log.warning("bad message from %s:%d while routing: %s", rcv.src_ip, rcv.src_port, err.reason)
        core_stat("bad_msg_hdr").inc()
        if msg.type == REQUEST and err.status is not None:
            answer_parse_error(data, rcv, err)
    except MemoryError as err:
        log.error("out of shared memory while handling %s from %s:%d: %s",
                  msg.method or msg.status, rcv.src_ip, rcv.src_port, err)
        core_stat("err_requests" if msg.type == REQUEST else "err_replies").inc()
        internal_error(msg, "Server Internal Error (out of memory)")
    except ShmCorrupted as err:
        log.critical("shared memory unusable while handling %s from %s:%d: %s",
                     msg.method or msg.status, rcv.src_ip, rcv.src_port, err)
        core_stat("err_requests" if msg.type == REQUEST else "err_replies").inc()
        internal_error(msg, "Server Internal Error (shared memory)")
    except Exception:
        log.exception("error while handling %s from %s:%d", msg.method or msg.status, rcv.src_ip, rcv.src_port)
        core_stat("err_requests" if msg.type == REQUEST else "err_replies").inc()
        internal_error(msg, "Server Internal Error")
