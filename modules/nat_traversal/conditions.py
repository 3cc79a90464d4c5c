"""nat_keepalive() and the reply callbacks that turn it into keepalive conditions
(Kamailio nat_traversal 5.6 README 2.3 and 5.3).

nat_keepalive() only marks the request. The condition starts from the reply:
  REGISTER   a 2xx (stateless from save(), or through tm): the highest expires of the
             reply's Contacts that match the request's; an unregister (Contact: *, or
             every contact with expires 0) ends the registration condition
  SUBSCRIBE  a 2xx: its Expires header
  INVITE     a 1xx above 100 or a 2xx starts a dialog condition for the caller, and
             for the callee that answered if it is already kept alive; a negative final
             reply or the BYE's final reply ends it. With the dialog module loaded the
             dialog's callbacks do this instead (dialog_bind.py)
The mark lives in a shared table keyed by the request's identity, so the worker that
relays the reply (any worker) finds it.
"""

from __future__ import annotations

import logging
import time

from kamapy.mem.htable import SharedHashTable
from kamapy.sip.errors import SipParseError
from kamapy.sip.methods import METHOD_INVITE, METHOD_REGISTER, METHOD_SUBSCRIBE
from kamapy.sip.msg import PROTO_UDP, RecvInfo, SipMsg
from kamapy.sip.uri import parse_uri

from . import dialog_bind, endpoints

log = logging.getLogger("kamapy.nat_traversal")

FL_DO_KEEPALIVE = 1 << 31  # Kamailio's bit in msg_flags
MARK_LIFETIME = 300.0       # longer than any transaction lives

_state = {"disabled": False, "contact_match": 0, "marks": None}


def setup(disabled: bool, contact_match: int):
    _state["disabled"] = disabled
    _state["contact_match"] = 1 if contact_match else 0
    if not disabled:
        _state["marks"] = SharedHashTable(size_log2=8, name="nat_traversal marks")


def _sock_str(msg) -> str:
    si = msg.rcv.sock
    if si is not None:
        return str(si)
    return f"udp:{msg.rcv.dst_ip}:{msg.rcv.dst_port}"


def _mark_key(msg) -> bytes | None:
    try:
        cseq = msg.cseq
        tag = msg.from_hdr.tag or ""
        return f"{msg.callid}|{cseq.number}|{cseq.method}|{tag}|{msg.rcv.src_ip}:{msg.rcv.src_port}".encode()
    except (SipParseError, AttributeError):
        return None


def nat_keepalive(msg) -> int:
    if _state["disabled"]:
        return -1
    if msg.rcv.proto != PROTO_UDP:  # keepalive is for UDP only
        return -1
    if msg.method_id not in (METHOD_REGISTER, METHOD_SUBSCRIBE, METHOD_INVITE):
        log.error("unsupported method for keepalive")
        return -1
    key = _mark_key(msg)
    if key is None:
        return -1
    msg.xflags |= FL_DO_KEEPALIVE
    if msg.method_id == METHOD_INVITE and dialog_bind.bound():
        return 1  # the dialog module's DLGCB_CREATED reads the flag (dialog_bind.py)
    _state["marks"].put(key, _sock_str(msg).encode(), expires=time.time() + MARK_LIFETIME)
    return 1


# ------------------------------------------------------------------ expiries from a reply

def _light_key(uri: str):
    try:
        u = parse_uri(uri)
    except SipParseError:
        return None
    return (u.scheme, u.user, u.host.lower(), u.port or 0, u.transport.lower() if u.transport else "")


def _contacts(msg):
    try:
        c = msg.contacts
    except SipParseError:
        return None
    return c


def register_expire(request, reply, now: float) -> float | None:
    """The registration's end from a 2xx: a time > now, 0.0 for an unregister, None
    when the reply says nothing about the request's contacts."""
    req = _contacts(request)
    if not req:
        return None
    if req.star:
        return 0.0
    hdr_exp = request.expires
    if all((c.expires if c.expires is not None else hdr_exp) == 0 for c in req.contacts):
        return 0.0
    rpl = _contacts(reply)
    if not rpl or rpl.star:
        return None
    light = _state["contact_match"] == 1
    best = 0
    matched = False
    for c in req.contacts:
        want = _light_key(c.uri) if light else c.uri
        for r in rpl.contacts:
            if (_light_key(r.uri) if light else r.uri) == want:
                if r.expires:
                    best = max(best, r.expires)
                matched = True
                break
    if not matched or not best:
        return None
    return now + best


def subscribe_expire(reply, now: float) -> float | None:
    try:
        v = reply.expires
    except SipParseError:
        log.error("failed to parse the Expires header")
        return None
    return now + v if v else None


def _apply(request, reply, code: int, src_uri: str, sock: str):
    now = time.time()
    m = request.method_id
    if m == METHOD_REGISTER:
        exp = register_expire(request, reply, now)
        if exp == 0.0:
            endpoints.end_registration(src_uri)
        elif exp:
            endpoints.registration(src_uri, sock, exp)
    elif m == METHOD_SUBSCRIBE:
        exp = subscribe_expire(reply, now)
        if exp:
            endpoints.subscription(src_uri, sock, exp)


# ------------------------------------------------------------------ sl: stateless replies

def sl_reply_out(msg, code: int, extra: str):
    if not msg.xflags & FL_DO_KEEPALIVE or not 200 <= code < 300:
        return
    if msg.method_id == METHOD_INVITE:
        return
    # what the reply adds to the copied Via/From/To/Call-ID/CSeq lines is in extra
    reply = SipMsg(f"SIP/2.0 {code} OK\r\n{extra}\r\n".encode("latin-1"))
    try:
        _apply(msg, reply, code, endpoints.source_uri(msg.rcv.src_ip, msg.rcv.src_port), _sock_str(msg))
    except SipParseError as e:
        log.error("cannot parse the stateless reply for keepalive information: %s", e.reason)
    key = _mark_key(msg)
    if key is not None:
        _state["marks"].delete(key)


# ------------------------------------------------------------------ tm: replies upstream

TM_CB = "nat_traversal.reply_out"
_WATCHED = ("REGISTER", "SUBSCRIBE", "INVITE", "BYE")
_tm = [None]  # tm's API, bound in mod_init


def bind_tm(tmb) -> None:
    """In mod_init (before the fork): every new REGISTER/SUBSCRIBE/INVITE/BYE
    transaction gets a TMCB_RESPONSE_OUT callback (Kamailio registers its tm reply
    callback per request too)."""
    _tm[0] = tmb
    tmb.define(TM_CB, _on_response_out)
    tmb.register_global(tmb.TMCB_REQUEST_IN, _on_request_in)


def _on_request_in(t, _type, _msg, _code, _param):
    method = t.method
    if method not in _WATCHED or _state["disabled"]:
        return
    if method == "BYE" and dialog_bind.bound():
        return  # calls end through the dialog module's callbacks
    tmb = _tm[0]
    tmb.register_tmcb(t, tmb.TMCB_RESPONSE_OUT, TM_CB)


def _on_response_out(t, _type, reply, code, _param):
    """TMCB_RESPONSE_OUT: every reply sent upstream, relayed or local."""
    tm_reply_out(t, reply, code)


def tm_reply_out(t, reply, code: int):
    if _state["disabled"] or code < 101:
        return
    method = t.method
    if method not in ("REGISTER", "SUBSCRIBE", "INVITE", "BYE"):
        return
    if dialog_bind.bound() and (method == "BYE" or (method == "INVITE" and not 200 <= code < 300)):
        return  # calls start and end through the dialog module's callbacks (dialog_bind.py)
    marks = _state["marks"]
    if method == "BYE":
        if code < 200 or not len(endpoints.table()):
            return
    elif not len(marks):
        # nothing marked: only a 2xx to an INVITE may still matter (a callee already
        # kept alive joins the call)
        if method != "INVITE" or not 200 <= code < 300 or not len(endpoints.table()):
            return
    try:
        _tm_reply(t, reply, code, marks)
    except SipParseError as e:
        log.error("cannot read the %s reply for keepalive information: %s", method, e.reason)


def _tm_reply(t, reply, code, marks):
    src_ip, src_port, dst_ip, dst_port, proto = t.rcv[:5]  # a 6th field: the conid (TCP)
    request = SipMsg(t.req, RecvInfo(src_ip, src_port, dst_ip, dst_port, proto))
    callid = request.callid
    if t.method == "BYE":
        for uri in endpoints.endpoints_with_dialog(callid):
            endpoints.dialog_end(uri, callid)
        return
    key = _mark_key(request)
    sock = marks.get(key) if key is not None else None
    src_uri = endpoints.source_uri(src_ip, src_port)
    if t.method == "INVITE":
        if sock is not None and not dialog_bind.bound():
            if code < 300:
                endpoints.dialog_start(src_uri, sock.decode(), callid)
            elif code < 200 or code >= 300:
                for uri in endpoints.endpoints_with_dialog(callid):
                    endpoints.dialog_end(uri, callid)
        if 200 <= code < 300 and 0 <= t.relayed < len(t.branches) and (
                not dialog_bind.bound() or dialog_bind.tracked(callid)):
            # the callee that answered keeps its visibility for the call if it is
            # already kept alive (registered through us)
            b = t.branches[t.relayed]
            endpoints.dialog_start(endpoints.source_uri(b.ip, b.port), None, callid, create_new=False,
                                   timeout=dialog_bind.timeout())
        return
    if sock is None or code < 200:
        return
    if code < 300:
        _apply(request, reply, code, src_uri, sock.decode())
    marks.delete(key)
