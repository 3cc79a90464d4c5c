"""tm's config functions (Kamailio: tm.c w_t_* and the cmds table), with Kamailio's
parameters, route types and return codes."""

from __future__ import annotations

import logging
import re
import time

from kamapy import ser_error
from kamapy.module import (
    ANY_ROUTE,
    BRANCH_FAILURE_ROUTE,
    BRANCH_ROUTE,
    CORE_ONREPLY_ROUTE,
    EVENT_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    TM_ONREPLY_ROUTE,
    Arg,
    Function,
)
from kamapy.sip.msg import PROTO_TCP, PROTO_TLS, PROTO_UDP, REPLY

from . import outbox, serial
from . import relay as rl
from .context import NOT_HELD, cur, for_msg, pending_of
from .dns_failover import T_DISABLE_FAILOVER
from .failure import pick_branch
from .store import store
from .transaction import (
    B_REPLIED,
    B_TIMEOUT,
    T_CANCELED,
    T_DISABLE_6XX,
    T_DISABLE_INTERNAL_REPLY,
    T_NO_AUTO_100,
    T_NO_E2E_CANCEL_REASON,
)
from .uas import put_on_wait, reply_local, request_msg, resend_last

log = logging.getLogger("kamapy.tm")

RQ_FL = REQUEST_ROUTE | FAILURE_ROUTE
ALL_T = REQUEST_ROUTE | TM_ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE


def _txn(msg):
    """The transaction msg works on (current one, or the one a reply belongs to)."""
    c = cur
    if c.msg is msg and c.txn is not None:
        return c.txn
    return None


def _modify(msg, change) -> int:
    """Apply change(t) to the current transaction: in memory when this process holds
    its lock (failure/onreply/branch route), else under the lock and written back."""
    c = for_msg(msg)
    t = c.txn
    if t is None:
        return -1
    if c.lock != NOT_HELD:  # held here, or not stored yet
        change(t)
        return 1
    st = store()
    lock = st.lock(t.tid)
    opened = outbox.hold()
    try:
        fresh = st.load(t.tid)
        if fresh is None:
            return -1
        change(fresh)
        st.save(fresh)
        c.txn = fresh
    finally:
        st.unlock(lock)
        outbox.flush(opened)
    return 1


# ---------------------------------------------------------------------- relaying
def _proxy(host, port, proto=PROTO_UDP):
    if host is None or host == "":
        return None
    try:
        port = int(port) if port not in (None, "") else 5060
    except ValueError:
        log.error("t_relay: bad port %r", port)
        return False
    return (proto, str(host), port)


def w_t_relay(msg, host=None, port=None) -> int:
    proxy = _proxy(host, port, msg.rcv.proto or PROTO_UDP)
    if proxy is False:
        return ser_error.E_CFG
    return rl.relay(msg, proxy)


def _relay_forced(proto: int):
    """t_relay_to_udp/tcp/tls([host, port]): to host:port, else to $du / the R-URI,
    over that transport whatever the URI says (Kamailio's force_proto)."""
    def handler(msg, host=None, port=None) -> int:
        proxy = _proxy(host, port, proto)
        if proxy is False:
            return ser_error.E_CFG
        if proxy is None:
            from kamapy.sip.next_hop import next_hop
            try:
                _proto, h, p = next_hop(msg)
            except Exception:
                ser_error.set_error(ser_error.E_BAD_URI)
                return ser_error.E_BAD_URI
            proxy = (proto, h, p)
        return rl.relay(msg, proxy)
    return handler


w_t_relay_to_udp = _relay_forced(PROTO_UDP)


def _unsupported_transport(name):
    def handler(msg, host=None, port=None):
        log.error("%s: the transport is not supported yet", name)
        ser_error.set_error(ser_error.E_BAD_PROTO)
        return ser_error.E_BAD_PROTO
    return handler


def _parse_relay_to(text: str):
    """"proto:host:port" / "host" / "0x01" (flags) -> (proxy or None, flags)."""
    text = (text or "").strip()
    if not text:
        return None, 0
    if text.lower().startswith("0x") or text.isdigit():
        return None, int(text, 0)
    from kamapy.core_functions import parse_socket
    from kamapy.sip.msg import PROTO_IDS
    proto, host, port = parse_socket(text)
    return (PROTO_IDS.get(proto, PROTO_UDP), host, port or 5060), 0


def w_t_relay_to(msg, proxy=None, flags=None) -> int:
    try:
        dest, fl = _parse_relay_to(proxy)
    except ValueError as e:
        log.error("t_relay_to: %s", e)
        return ser_error.E_CFG
    if flags not in (None, ""):
        fl = int(str(flags), 0)
    _apply_relay_flags(msg, fl)
    if dest is not None and dest[0] not in (PROTO_UDP, 2, 3):  # udp, tcp, tls
        return _unsupported_transport("t_relay_to")(msg)
    return rl.relay(msg, dest)


def _apply_relay_flags(msg, fl: int):
    if not fl:
        return
    p = pending_of(msg)
    if fl & 1:
        p.flags_set |= T_NO_AUTO_100
    if fl & 2:
        p.flags_set |= T_DISABLE_INTERNAL_REPLY


def w_t_relay_cancel(msg) -> int:
    """0 (stop) when the CANCEL went to its INVITE's branches, 1 when there is no
    such INVITE transaction (the script goes on), as Kamailio's t_relay_cancel."""
    if msg.method != "CANCEL":
        return 1
    rc = rl.relay_cancel(msg)
    if rc is None:
        return 1
    return 0 if rc >= 0 else rc


def w_t_forward_nonack(msg, host=None, port=None) -> int:
    if msg.method == "ACK":
        return -1
    return w_t_relay(msg, host, port)


# ---------------------------------------------------------------------- lookups
def w_t_newtran(msg) -> int:
    return rl.newtran(msg)


def w_t_check_trans(msg) -> int:
    if msg.type == REPLY:
        from .matching import reply_tid
        found = reply_tid(msg)
        return 1 if found is not None and store().exists(found[0]) else -1
    return rl.check_trans(msg)


def w_t_lookup_request(msg) -> int:
    if msg.method == "ACK":
        from .matching import invite_tid
        return 1 if rl.lookup(*invite_tid(msg)) is not None else -1
    return 1 if rl.lookup_request(msg) is not None else -1


def w_t_lookup_cancel(msg, flag=0) -> int:
    if msg.method != "CANCEL":
        return -1
    from .matching import invite_tid
    return 1 if rl.lookup(*invite_tid(msg)) is not None else -1


def w_t_exists(msg) -> int:
    if _txn(msg) is not None:
        return 1
    if msg.type == REPLY:
        return w_t_check_trans(msg)
    return 1 if rl.lookup_request(msg) is not None else -1


# ---------------------------------------------------------------------- replies
def t_reply(msg, code: int, reason: str) -> int:
    code = int(code)
    c = for_msg(msg)
    if c.txn is None:
        log.error("t_reply: no transaction for this message (use t_newtran first)")
        return -1
    now = time.time()
    req = msg if msg.type != REPLY else None
    c.delayed_error = 0  # the script answered: no delayed error reply

    def change(t):
        m = req if req is not None else request_msg(t)
        rc[0] = reply_local(t, m, code, reason, now)

    rc = [-1]
    if _modify(msg, change) < 0:
        return -1
    return rc[0]


class _LeadingPv:
    """t_reply's reason when it starts with a pseudo-variable: Kamailio's
    fixup_var_str_12 takes that one PV and ignores the text after it."""

    __slots__ = ("pv",)

    def __init__(self, pv):
        self.pv = pv

    def value(self, msg) -> str:
        v = self.pv.get(msg)
        return "" if v is None else str(v)


def _reason_arg(text: str):
    """The reason of t_reply / t_send_reply as Kamailio's fixup_var_str_12 reads it: a
    leading pseudo-variable, else the text as written ("Busy $var(x)" stays as is)."""
    if text.startswith("$"):
        from kamapy.pv import parse_pv
        from kamapy.pv.syntax import pv_end
        try:
            return _LeadingPv(parse_pv(text[:pv_end(text, 0)]))
        except Exception:  # not a pseudo-variable after all: the literal text
            return text
    return text


def _reason(msg, reason) -> str:
    return reason.value(msg) if isinstance(reason, _LeadingPv) else reason


def w_t_reply(msg, code, reason) -> int:
    reason = _reason(msg, reason)
    if code is None:
        # a "$pv" code without an int side: Kamailio's w_t_reply falls back on tm's
        # default_code (the reason stays the one given)
        from .config import cfg
        code = cfg.default_code
    return t_reply(msg, code, reason)


w_t_reply.takes_no_int = True  # the compiler passes None for that case (see above)


def w_t_send_reply(msg, code, reason) -> int:
    reason = _reason(msg, reason)
    c = for_msg(msg)
    if c.txn is None:
        rc = rl.newtran(msg)
        if rc <= 0:
            return rc
    return t_reply(msg, code, reason)


def w_t_reply_error(msg) -> int:
    code, reason = ser_error.err2reason(ser_error.last_error(), "TM")
    return t_reply(msg, code, reason)


def w_t_retransmit_reply(msg) -> int:
    t = _txn(msg) or rl.lookup_request(msg)
    if t is None:
        return -1
    return 1 if resend_last(t) else -1


def w_t_release(msg) -> int:
    for_msg(msg).delayed_error = 0

    def change(t):
        put_on_wait(t, time.time())
    return _modify(msg, change)


def has_transaction(msg) -> bool:
    """Whether send_reply() on msg goes through the transaction (sl asks)."""
    c = cur
    return c.msg is msg and c.txn is not None


def stateful_send_reply(msg, code: int, reason: str):
    """sl's send_reply() hook: stateful when the message has a transaction."""
    if _txn(msg) is None:
        return None
    return t_reply(msg, code, reason)


# ---------------------------------------------------------------------- route names
def _set_route(kind: str):
    def handler(msg, name) -> int:
        name = str(name)
        c = for_msg(msg)
        if c.txn is not None:
            return _modify(msg, lambda t: setattr(t, kind, name))
        setattr(pending_of(msg), kind, name)
        return 1
    return handler


w_t_on_failure = _set_route("on_failure")
w_t_on_reply = _set_route("on_reply")
w_t_on_branch = _set_route("on_branch")
w_t_on_branch_failure = _set_route("on_branch_failure")


def w_t_is_set(msg, target) -> int:
    field = {"failure_route": "on_failure", "onreply_route": "on_reply",
             "branch_route": "on_branch", "branch_failure_route": "on_branch_failure"}.get(str(target))
    if field is None:
        return -1
    t = _txn(msg)
    value = getattr(t, field) if t is not None else getattr(pending_of(msg), field)
    return 1 if value else -1


# ---------------------------------------------------------------------- timers
def _ms(v) -> float:
    return max(0, int(v)) / 1000.0


def _set_timers(msg, pending: dict[str, float], change) -> int:
    """A t_set_*() call: before the transaction exists the values wait in the message
    (a 0 keeps what is there); after, change(t) applies them to the transaction."""
    if for_msg(msg).txn is None:
        p = pending_of(msg)
        for name, v in pending.items():
            if v:
                setattr(p, name, v)
        return 1
    return _modify(msg, change)


def w_t_set_fr(msg, fr_inv, fr=0) -> int:
    inv, non = _ms(fr_inv), _ms(fr or 0)

    def change(t):
        now = time.time()
        if inv:
            t.fr_inv = inv
        if non:
            t.fr = non
        for b in t.branches:  # running branches get the new timeout at once
            if b.pending and b.fr_due:
                b.fr_due = now + (t.fr_inv if t.is_invite and b.flags & B_REPLIED else t.fr)
    return _set_timers(msg, {"fr_inv": inv, "fr": non}, change)


def w_t_reset_fr(msg) -> int:
    from .config import cfg
    return w_t_set_fr(msg, int(cfg.fr_inv * 1000), int(cfg.fr * 1000))


def w_t_set_retr(msg, t1, t2) -> int:
    v1, v2 = _ms(t1), _ms(t2)

    def change(t):
        t.t1 = v1 or t.t1
        t.t2 = v2 or t.t2
    return _set_timers(msg, {"t1": v1, "t2": v2}, change)


def w_t_reset_retr(msg) -> int:
    from .config import cfg
    return w_t_set_retr(msg, int(cfg.t1 * 1000), int(cfg.t2 * 1000))


def w_t_set_max_lifetime(msg, inv, noninv) -> int:
    vi, vn = _ms(inv), _ms(noninv)

    def change(t):
        v = vi if t.is_invite else vn
        if v:
            t.end_of_life = t.created + v
    return _set_timers(msg, {"inv_lifetime": vi, "noninv_lifetime": vn}, change)


def w_t_reset_max_lifetime(msg) -> int:
    from .config import cfg
    return w_t_set_max_lifetime(msg, int(cfg.max_inv_lifetime * 1000), int(cfg.max_noninv_lifetime * 1000))


def _flag_setter(flag: int, invert: bool = False):
    def handler(msg, value) -> int:
        on = bool(int(value))
        if invert:
            on = not on
        c = for_msg(msg)
        if c.txn is None:
            p = pending_of(msg)
            if on:
                p.flags_set |= flag
                p.flags_reset &= ~flag
            else:
                p.flags_reset |= flag
                p.flags_set &= ~flag
            return 1

        def change(t):
            t.flags = (t.flags | flag) if on else (t.flags & ~flag)
        return _modify(msg, change)
    return handler


w_t_set_auto_inv_100 = _flag_setter(T_NO_AUTO_100, invert=True)
w_t_set_disable_6xx = _flag_setter(T_DISABLE_6XX)
w_t_set_disable_internal_reply = _flag_setter(T_DISABLE_INTERNAL_REPLY)
w_t_set_no_e2e_cancel_reason = _flag_setter(T_NO_E2E_CANCEL_REASON)


w_t_set_disable_failover = _flag_setter(T_DISABLE_FAILOVER)


# ---------------------------------------------------------------------- checks
_regex_cache: dict[str, re.Pattern] = {}


def _status_for_check(msg) -> int | None:
    c = cur
    route = msg.ctx.route_type if msg.ctx is not None else REQUEST_ROUTE
    if msg.type == REPLY:
        return msg.status
    t = _txn(msg)
    if route & BRANCH_FAILURE_ROUTE and c.msg is msg:
        return c.reply_code or None
    if route & FAILURE_ROUTE and c.msg is msg:
        if t is not None:
            best = pick_branch(t)
            if best >= 0:
                return t.branches[best].code
        return c.reply_code or None
    if t is None:
        t = rl.lookup_request(msg)
    return t.uas_code if t is not None else None


def w_t_check_status(msg, pattern) -> int:
    rx = _regex_cache.get(pattern)
    if rx is None:
        try:
            rx = re.compile(pattern)
        except re.error as e:
            log.error("t_check_status: bad regular expression %r: %s", pattern, e)
            return -1
        if len(_regex_cache) < 256:
            _regex_cache[pattern] = rx
    code = _status_for_check(msg)
    if code is None:
        return -1
    return 1 if rx.search(str(code)) else -1


def w_t_get_status_code(msg) -> int:
    code = _status_for_check(msg)
    return code if code else -1


def w_t_grep_status(msg, code) -> int:
    t = _txn(msg)
    if t is None:
        return -1
    code = int(code)
    return 1 if any(b.code == code for b in t.branches) else -1


def _current_branch(msg):
    t = _txn(msg)
    if t is None or not 0 <= cur.branch < len(t.branches):
        return None
    return t.branches[cur.branch]


def w_t_branch_timeout(msg) -> int:
    b = _current_branch(msg)
    return 1 if b is not None and b.flags & B_TIMEOUT else -1


def w_t_branch_replied(msg) -> int:
    b = _current_branch(msg)
    return 1 if b is not None and b.flags & B_REPLIED else -1


def w_t_any_timeout(msg) -> int:
    t = _txn(msg)
    return 1 if t is not None and any(b.flags & B_TIMEOUT for b in t.branches) else -1


def w_t_any_replied(msg) -> int:
    t = _txn(msg)
    return 1 if t is not None and any(b.flags & B_REPLIED for b in t.branches) else -1


def w_t_is_canceled(msg) -> int:
    t = _txn(msg)
    if t is None:
        return -1
    if cur.lock < 0:
        fresh = store().load(t.tid)  # a CANCEL may have come in on another process
        if fresh is not None:
            t = fresh
    return 1 if t.flags & T_CANCELED else -1


def w_t_is_expired(msg) -> int:
    t = _txn(msg)
    if t is None:
        return -1
    return 1 if t.end_of_life and t.end_of_life <= time.time() else -1


def w_t_drop_replies(msg, mode=None) -> int:
    t = _txn(msg)
    if t is None:
        return -1
    t.first_branch = len(t.branches)
    return 1


def w_t_save_lumps(msg) -> int:
    return 1


def w_t_load_contacts(msg, mode=serial.STANDARD) -> int:
    if mode is None:  # a pseudo-variable without an integer value
        log.error("t_load_contacts: the mode is not an integer")
        return -1
    return serial.load_contacts(msg, mode)


def w_t_next_contacts(msg) -> int:
    return serial.next_contacts(msg)


def w_t_next_contact_flow(msg) -> int:
    return serial.next_contact_flow(msg)


REASON = Arg("raw", fixup=_reason_arg, kemi_fixup=False)  # KSR.tm.t_reply: the text as given

FUNCTIONS = [
    Function("t_relay", w_t_relay, (Arg("spve", optional=True), Arg("spve", optional=True)), RQ_FL),
    Function("t_relay_to_udp", w_t_relay_to_udp, (Arg("spve", optional=True), Arg("spve", optional=True)), RQ_FL),
    Function("t_relay_to_tcp", _relay_forced(PROTO_TCP),
             (Arg("spve", optional=True), Arg("spve", optional=True)), RQ_FL),
    Function("t_relay_to_tls", _relay_forced(PROTO_TLS),
             (Arg("spve", optional=True), Arg("spve", optional=True)), RQ_FL),
    Function("t_relay_to_sctp", _unsupported_transport("t_relay_to_sctp"),
             (Arg("spve", optional=True), Arg("spve", optional=True)), RQ_FL),
    Function("t_relay_to", w_t_relay_to, (Arg("spve", optional=True), Arg("spve", optional=True)), RQ_FL),
    Function("t_relay_cancel", w_t_relay_cancel, (), REQUEST_ROUTE),
    Function("t_forward_nonack", w_t_forward_nonack, (Arg("spve", optional=True), Arg("spve", optional=True)),
             REQUEST_ROUTE),
    Function("t_forward_nonack_uri", w_t_forward_nonack, (), REQUEST_ROUTE),
    Function("t_forward_nonack_udp", w_t_forward_nonack, (Arg("spve"), Arg("spve")), REQUEST_ROUTE),
    Function("t_newtran", w_t_newtran, (), REQUEST_ROUTE),
    Function("t_check_trans", w_t_check_trans, (), REQUEST_ROUTE | ONREPLY_ROUTE | BRANCH_ROUTE),
    Function("t_lookup_request", w_t_lookup_request, (), REQUEST_ROUTE),
    Function("t_lookup_cancel", w_t_lookup_cancel, (Arg("int", optional=True, default=0),), REQUEST_ROUTE),
    Function("t_exists", w_t_exists, (), ANY_ROUTE),
    Function("t_reply", w_t_reply, (Arg("igp"), REASON), REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE),
    Function("t_send_reply", w_t_send_reply, (Arg("igp"), REASON),
             REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE),
    Function("t_reply_error", w_t_reply_error, (), REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE),
    Function("t_retransmit_reply", w_t_retransmit_reply, (), REQUEST_ROUTE),
    Function("t_release", w_t_release, (), REQUEST_ROUTE),
    Function("t_on_failure", w_t_on_failure, (Arg("str"),), RQ_FL | TM_ONREPLY_ROUTE | BRANCH_ROUTE),
    Function("t_on_branch_failure", w_t_on_branch_failure, (Arg("str"),),
             RQ_FL | TM_ONREPLY_ROUTE | BRANCH_ROUTE),
    Function("t_on_reply", w_t_on_reply, (Arg("str"),), RQ_FL | TM_ONREPLY_ROUTE | BRANCH_ROUTE),
    Function("t_on_branch", w_t_on_branch, (Arg("str"),), RQ_FL),
    Function("t_is_set", w_t_is_set, (Arg("str"),), ANY_ROUTE),
    Function("t_check_status", w_t_check_status, (Arg("spve"),), RQ_FL | ONREPLY_ROUTE | BRANCH_FAILURE_ROUTE),
    Function("t_get_status_code", w_t_get_status_code, (), RQ_FL | ONREPLY_ROUTE | BRANCH_ROUTE),
    Function("t_grep_status", w_t_grep_status, (Arg("igp"),), ALL_T),
    Function("t_set_fr", w_t_set_fr, (Arg("igp"), Arg("igp", optional=True, default=0)), ALL_T),
    Function("t_reset_fr", w_t_reset_fr, (), ALL_T),
    Function("t_set_retr", w_t_set_retr, (Arg("igp"), Arg("igp")), ALL_T),
    Function("t_reset_retr", w_t_reset_retr, (), ALL_T),
    Function("t_set_max_lifetime", w_t_set_max_lifetime, (Arg("igp"), Arg("igp")), ALL_T),
    Function("t_reset_max_lifetime", w_t_reset_max_lifetime, (), ALL_T),
    Function("t_set_auto_inv_100", w_t_set_auto_inv_100, (Arg("igp"),), REQUEST_ROUTE),
    Function("t_set_disable_6xx", w_t_set_disable_6xx, (Arg("igp"),), ALL_T),
    Function("t_set_disable_failover", w_t_set_disable_failover, (Arg("igp"),), ALL_T),
    Function("t_set_disable_internal_reply", w_t_set_disable_internal_reply, (Arg("igp"),), ALL_T),
    Function("t_set_no_e2e_cancel_reason", w_t_set_no_e2e_cancel_reason, (Arg("igp"),), ALL_T),
    Function("t_disable_e2e_cancel_reason", w_t_set_no_e2e_cancel_reason, (Arg("igp"),), ALL_T),
    Function("t_branch_timeout", w_t_branch_timeout, (), FAILURE_ROUTE | EVENT_ROUTE),
    Function("t_branch_replied", w_t_branch_replied, (), FAILURE_ROUTE | EVENT_ROUTE),
    Function("t_any_timeout", w_t_any_timeout, (), ALL_T),
    Function("t_any_replied", w_t_any_replied, (), ALL_T),
    Function("t_is_canceled", w_t_is_canceled, (), ALL_T),
    Function("t_is_expired", w_t_is_expired, (), ALL_T),
    Function("t_drop_replies", w_t_drop_replies, (Arg("str", optional=True),), FAILURE_ROUTE),
    Function("t_save_lumps", w_t_save_lumps, (), REQUEST_ROUTE),
    Function("t_load_contacts", w_t_load_contacts, (Arg("igp", optional=True, default=serial.STANDARD),), RQ_FL),
    Function("t_next_contacts", w_t_next_contacts, (), RQ_FL),
    # REQUEST_ROUTE as in Kamailio: that covers event_route[tm:branch-failure:...]
    Function("t_next_contact_flow", w_t_next_contact_flow, (), REQUEST_ROUTE),
]

__all__ = ["FUNCTIONS", "has_transaction", "stateful_send_reply", "t_reply", "CORE_ONREPLY_ROUTE"]
