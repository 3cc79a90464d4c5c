"""The config functions (Kamailio rtpengine.c: rtpengine_offer/answer/delete/query/
manage, the media and recording commands, set_rtpengine_set) and $rtpstat."""

from __future__ import annotations

import logging

from kamapy.module import BRANCH_FAILURE_ROUTE, FAILURE_ROUTE
from kamapy.pv.base import Pv
from kamapy.sip.errors import SipParseError
from kamapy.sip.methods import (
    METHOD_ACK,
    METHOD_BYE,
    METHOD_CANCEL,
    METHOD_INVITE,
    METHOD_PRACK,
    METHOD_UPDATE,
)
from kamapy.sip.msg import REPLY

from . import body, engine, sdp_marks
from .bound import tm
from .engine import OP_QUERY, cfg, registry, sel
from .flags import OP_ANSWER, OP_DELETE, OP_OFFER

log = logging.getLogger("kamapy.rtpengine")


# ------------------------------------------------------------------ set selection
def _set_from_avp(msg, direction: int) -> bool:
    """Kamailio set_rtpengine_set_from_avp: the active set for this call."""
    if cfg.setid_avp is not None:
        value = cfg.setid_avp.get(msg)
        if value is not None:
            if isinstance(value, str):
                log.error("setid_avp must hold an integer value")
                return False
            rset = registry.find_set(int(value))
            if rset is None:
                log.error("could not locate engine set %s", value)
                return False
            sel.msg = msg
            sel.active = rset
            return True
    if sel.msg is msg:
        sel.active = sel.set1 if direction == 1 or sel.set2 is None else sel.set2
    return True


def wrap(msg, fn, flags, direction: int) -> int:
    """Kamailio rtpengine_rtpp_set_wrap: run fn once, or once per set when
    set_rtpengine_set() chose two different ones (the second gets the first's SDP)."""
    if not _set_from_avp(msg, direction):
        return -1
    two = sel.msg is msg and sel.set2 is not None and sel.set2 is not sel.set1
    if not two:
        return fn(msg, flags, None)
    state = {}
    ret = fn(msg, flags, state)
    if ret < 0:
        return ret
    if not _set_from_avp(msg, 2 if direction == 1 else 1):
        return -1
    return fn(msg, flags, {"intermediate": state.get("sdp")} if "sdp" in state else None)


def set_rtpengine_set(msg, first, second=None) -> int:
    sel.msg = msg
    sel.set1 = sel.set2 = sel.active = None
    ret, sel.set1 = _pick_set(msg, first)
    if ret < 0 or second is None:
        return ret if ret < 0 else 1
    ret2, sel.set2 = _pick_set(msg, second)
    return ret2 if ret2 < 0 else 1


def _pick_set(msg, ref):
    """(verdict, set) for one argument: a set fixed at load time, or a PV holding a
    set id (then the verdict is the number of enabled nodes, -2 with none)."""
    if not isinstance(ref, Pv):
        return 1, ref
    value = ref.get(msg)
    if not isinstance(value, int):
        log.error("pv param must hold an integer value")
        return -1, None
    rset = registry.find_set(value)
    if rset is None:
        log.error("could not locate rtpengine set %d", value)
        return -1, None
    active = sum(1 for n in rset.nodes if not registry.disabled(n))
    if active == 0:
        log.warning("rtpp: selected proxy set ID %d but it has no active node.", value)
        return -2, rset
    return active, rset


# ------------------------------------------------------------------ offer / answer
def offer_answer(msg, flags, op: str, state) -> int:
    override = state.get("intermediate") if state else None
    res = engine.call(msg, op, flags, sdp_override=override)
    if res is None:
        return -1
    newbody = res.reply.get("sdp")
    if not isinstance(newbody, bytes):
        log.error("failed to extract sdp body from proxy reply")
        return -1
    text = newbody.decode("latin-1")
    if state is not None and "intermediate" not in state:
        state["sdp"] = text   # the first of two sets: the second one gets this SDP
        return 1
    if cfg.write_sdp_pv is not None:
        try:
            cfg.write_sdp_pv.set(msg, text)
        except Exception:  # noqa: BLE001 -- Kamailio logs and fails
            log.error("error setting pvar <%s>", cfg.write_sdp_pv.text)
            return -1
        return 1
    try:
        if cfg.read_sdp_pv is not None:
            body.replace_whole_body(msg, text)
        elif res.span is not None:
            body.replace(msg, res.span[0], res.span[1], text)
    except SipParseError:
        log.error("del_lump failed")
        return -1
    return 1


def rtpengine_offer(msg, flags=None) -> int:
    return wrap(msg, lambda m, f, s: offer_answer(m, f, OP_OFFER, s), flags, 1)


def rtpengine_answer(msg, flags=None) -> int:
    if msg.type != REPLY and not (msg.method_id & (METHOD_ACK | METHOD_PRACK)):
        return -1
    return wrap(msg, lambda m, f, s: offer_answer(m, f, OP_ANSWER, s), flags, 2)


def _simple(op: str):
    def run(msg, flags, _state):
        return 1 if engine.call(msg, op, flags) is not None else -1
    return run


def rtpengine_delete(msg, flags=None) -> int:
    return wrap(msg, _simple(OP_DELETE), flags, 1)


def rtpengine_query(msg, flags=None) -> int:
    return wrap(msg, _simple(OP_QUERY), flags, 1)


def rtpengine_info(msg, flags=None) -> int:
    # Kamailio's rtpengine_info sends an offer-style simple call (rtpengine_simple_wrap)
    return wrap(msg, _simple(OP_OFFER), flags, 1)


def generic(op: str):
    def fn(msg, flags=None) -> int:
        return wrap(msg, _simple(op), flags, 1)
    fn.__name__ = op
    return fn


def play_media(msg, flags) -> int:
    def run(m, f, _s):
        res = engine.call(m, "play_media", f)
        if res is None:
            return -1
        if cfg.media_duration_pv is not None:
            d = res.reply.get("duration")
            try:
                cfg.media_duration_pv.set(m, str(d if isinstance(d, int) else -1))
            except Exception:  # noqa: BLE001
                log.error("error setting pvar <%s>", cfg.media_duration_pv.text)
                return -1
        return 1
    return wrap(msg, run, flags, 1)


# ------------------------------------------------------------------ manage
def _route_type(msg) -> int:
    ctx = getattr(msg, "ctx", None)
    return ctx.route_type if ctx is not None else 1


def _transaction(msg):
    """tm's transaction for msg (the request's, or the one a reply belongs to)."""
    api = tm()
    return api.t_gett(msg) if api is not None else None


def _reply_transaction(msg):
    """The INVITE transaction a reply belongs to (tm's T in onreply_route)."""
    return _transaction(msg)


_MANAGED = METHOD_INVITE | METHOD_ACK | METHOD_CANCEL | METHOD_BYE | METHOD_UPDATE | METHOD_PRACK


def managed_method(msg, logger) -> int:
    """The CSeq method id when rtpengine_manage / rtpproxy_manage act on the message,
    else 0 (a missing CSeq logged on the calling module's logger)."""
    try:
        method = msg.cseq.method_id
    except (SipParseError, AttributeError):
        logger.error("no CSEQ header")
        return 0
    return method if method & _MANAGED else 0


def manage(msg, flags, _state) -> int:
    if _route_type(msg) == BRANCH_FAILURE_ROUTE:
        return 1   # the delete is done on the transaction's failure route
    method = managed_method(msg, log)
    if not method:
        return -1
    if method & (METHOD_CANCEL | METHOD_BYE):
        return _simple(OP_DELETE)(msg, flags, None)
    sdp = body.has_sdp(msg)
    if msg.type != REPLY:
        if method & (METHOD_ACK | METHOD_PRACK) and sdp:
            return offer_answer(msg, flags, OP_ANSWER, None)
        if method == METHOD_UPDATE and sdp:
            return offer_answer(msg, flags, OP_OFFER, None)
        if method == METHOD_INVITE and sdp:
            t = _transaction(msg)
            if t is not None:
                sdp_marks.mark(t.tid)
            else:   # request_route before t_relay: the id tm is about to give it
                sdp_marks.mark_request(msg)
            if _route_type(msg) == FAILURE_ROUTE:
                return _simple(OP_DELETE)(msg, flags, None)
            return offer_answer(msg, flags, OP_OFFER, None)
        return -1
    if msg.status >= 300:
        return _simple(OP_DELETE)(msg, flags, None)
    if sdp:
        if method == METHOD_UPDATE:
            return offer_answer(msg, flags, OP_ANSWER, None)
        t = _reply_transaction(msg)
        if t is None or sdp_marks.offered(t):
            return offer_answer(msg, flags, OP_ANSWER, None)
        return offer_answer(msg, flags, OP_OFFER, None)
    return -1


def rtpengine_manage(msg, flags=None) -> int:
    return wrap(msg, manage, flags, 1)


# ------------------------------------------------------------------ $rtpstat
def rtpstat(msg) -> str | None:
    out = []

    def run(m, _f, _s):
        res = engine.call(m, OP_QUERY, None)
        if res is None:
            return -1
        tot = res.reply.get("totals")
        rtp = tot.get("RTP") if isinstance(tot, dict) else None
        rtcp = tot.get("RTCP") if isinstance(tot, dict) else None
        if not isinstance(rtp, dict) or not isinstance(rtcp, dict):
            return -1

        def num(d, k):
            v = d.get(k)
            return v if isinstance(v, int) else -1
        out.append(f"RTP: {num(rtp, 'bytes')} bytes, {num(rtp, 'packets')} packets, "
                   f"{num(rtp, 'errors')} errors; RTCP: {num(rtcp, 'bytes')} bytes, "
                   f"{num(rtcp, 'packets')} packets, {num(rtcp, 'errors')} errors")
        return 1
    if wrap(msg, run, None, 1) < 0 or not out:
        return None
    return out[-1]


class RtpStatPv(Pv):
    """$rtpstat / $rtpestat: the call's RTP and RTCP totals from a query."""

    __slots__ = ()

    def get(self, msg):
        return rtpstat(msg)


# ------------------------------------------------------------------ rtpengine_query_v
def _json_str(b) -> str:
    s = b.decode("latin-1") if isinstance(b, bytes) else str(b)
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 32:
            out.append({8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t"}.get(o, f"\\u{o:04x}"))
        else:
            out.append(ch)   # bytes >= 0x80 stay as they are, as srjson (cJSON) prints them
    out.append('"')
    return "".join(out)


def to_json(v, pretty: bool = False, depth: int = 1) -> str:
    """srjson_PrintUnformatted / srjson_Print of the reply, as Kamailio builds it."""
    if isinstance(v, dict):
        if not pretty:
            return "{" + ",".join(f"{_json_str(k)}:{to_json(x)}" for k, x in v.items()) + "}"
        tabs = "\t" * depth
        if not v:
            return "{\n" + "\t" * (depth - 1) + "}"
        items = [f"{tabs}{_json_str(k)}:\t{to_json(x, True, depth + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + "\t" * (depth - 1) + "}"
    if isinstance(v, list):
        sep = ", " if pretty else ","
        return "[" + sep.join(to_json(x, pretty, depth + 1) for x in v) + "]"
    if isinstance(v, int):
        return str(v)
    return _json_str(v)


def rtpengine_query_v(msg, fmt, pvar) -> int:
    def run(m, _f, _s):
        if not fmt or fmt[0] not in "jJ":
            log.error("invalid format parameter value: %s", fmt)
            return -1
        res = engine.call(m, OP_QUERY, None, full=True)
        if res is None:
            return -1
        text = to_json(res.reply, pretty=len(fmt) > 1 and fmt[1] in "pP")
        try:
            pvar.set(m, text)
        except Exception:  # noqa: BLE001 -- Kamailio warns and carries on
            log.warning("target pv is not writable")
        return 1
    return wrap(msg, run, None, 1)
