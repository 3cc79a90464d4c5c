"""What moves a dialog (Kamailio: dlg_handlers.c): its creation by dlg_manage() or
dlg_flag, the replies to its INVITE (tm callbacks), its in-dialog requests (the rr
callback, or dlg_manage on a sequential request), and the end of the script for a
dialog whose request was never relayed.

Every change is read-change-write of the shm record under its entry lock; the event
routes run after the lock is released.
"""

from __future__ import annotations

import logging
import os
import time

from kamapy_modules.tm.api import PENDING_KEY, TMCB_DESTROY, TMCB_RESPONSE_OUT

from kamapy.server.pid_gone import pid_gone
from kamapy.sip.errors import SipParseError

from . import callbacks as dcb
from . import events, stats
from . import state as st
from .bound import tmb
from .flags import (
    DLG_FLAG_EXPIRED,
    IFLAG_CSEQ_DIFF,
    IFLAG_KA_DST,
    IFLAG_KA_SRC,
    IFLAG_PRACK,
    IFLAG_TIMEOUTBYE,
    IFLAG_TIMER_NORESET,
)
from .match import DIR_DOWNSTREAM, DIR_UPSTREAM, MATCH_DID_NONE, _find, did_value, find, msg_ids, parse_did
from .profiles import profiles
from .settings import cfg
from .store import Dialog, store

log = logging.getLogger("kamapy.dialog")

CUR_KEY = events.CUR_KEY
CREATED_KEY = "dlg.created"     # msg.module_data: this message created the dialog here
TM_CB = "dialog.invite"         # the tm callback name on the INVITE transaction
TM_BYE = "dialog.bye"           # ... and on the BYE's: the ended dialog goes with it


ROUTE_KEY = "dlg.route"         # (state, lifetime) the rr callback found ($DLG_status/$DLG_lifetime)
CTX_KEY = "dlg.ctx"             # $dlg_ctx values of this message (pvs.ctx)

FILTER_LOCALONLY = 1  # dlg_filter_mode: timeouts and keepalives only for our own dialogs

_timeout_pv = [None]  # the parsed timeout_avp (mod_init)


def local_socket(sock: str) -> bool:
    """A dialog's "udp:ip:port" names one of our listen sockets."""
    if not sock:
        return False
    from kamapy.runtime import rt
    for si in rt.sockets:
        if sock == f"{si.proto_name}:{si.address}:{si.port}":
            return True
    return False


def set_timeout_avp(spec: str | None):
    if not spec:
        _timeout_pv[0] = None
        return
    from kamapy.pv import parse_pv
    _timeout_pv[0] = parse_pv(spec)


def timeout_of(msg) -> int:
    """The timeout_avp's value when it holds a positive integer, else default_timeout
    (Kamailio: get_dlg_timeout)."""
    pv = _timeout_pv[0]
    if pv is not None and msg is not None:
        try:
            v = pv.get(msg)
        except Exception:
            v = None
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return cfg.default_timeout


def current(msg) -> Dialog | None:
    """The message's dialog: the one made or matched for it, else the one its Call-ID
    and tags name (Kamailio: dlg_get_msg_dialog)."""
    view = msg.module_data.get(events.VIEW_KEY)
    if view is not None:
        return view
    cur = msg.module_data.get(CUR_KEY)
    if cur is None:
        from .match import by_ids
        ids = msg_ids(msg)
        found = by_ids(*ids, deleted=True) if ids is not None else None
        return found[0] if found is not None else None
    d = store().load(*cur)
    if d is None:
        return msg.module_data.get("dlg.snapshot")
    return d


def _sock_str(si) -> str:
    if si is None:
        return ""
    proto = getattr(si, "proto_name", None) or "udp"
    return f"{proto}:{si.address}:{si.port}"


def _contact(msg) -> str:
    v = msg.header_value("contact")
    if not v:
        return ""
    v = v.strip()
    if "<" in v and ">" in v:
        return v[v.index("<") + 1:v.index(">")]
    return v.split(";")[0].split(",")[0].strip()


def _rr(msg, downstream_only: bool = False, caller_rr: int = 0) -> str:
    """The leg's route set as Kamailio keeps it (populate_leg_info): the Record-Route
    entries of the INVITE as received (caller); for the callee, the reply's entries
    without the last ones -- as many as the caller's plus our own -- in reverse order,
    as the callee is reached (print_rr_body with order 1)."""
    entries = [v.strip() for hf in msg.get_headers("record-route") for v in _split_rr(hf.value)]
    if downstream_only:
        return callee_route_sets(entries, caller_rr, cfg.keep_proxy_rr)[0]
    return ",".join(entries)


def callee_route_sets(entries: list[str], caller_rr: int, keep_proxy_rr: int = 0):
    """(callee route set, new caller route set or None) from a 2xx's Record-Route
    entries. keep_proxy_rr 1: our own entries stay in the callee's set; 2: the caller's
    set becomes our entries and what lies upstream of them (Kamailio's arithmetic)."""
    n = len(entries)
    own = sum(1 for e in entries if _is_mine(e))
    skip = caller_rr + (0 if keep_proxy_rr & 1 else own)
    callee = ",".join(reversed(entries[:n - skip])) if n - skip > 0 else ""
    caller = None
    if keep_proxy_rr & 2 and own > 0:
        skip2 = (n - skip) - own
        caller = ",".join(entries[skip2:]) if skip2 >= 0 else ""
    return callee, caller


_mine_cache: dict[str, bool] = {}


def _is_mine(entry: str) -> bool:
    """A Record-Route entry of ours? Cached on the URI without its parameters (ours
    carry per-call ftag/did, the host part is always the same few)."""
    uri = entry[entry.find("<") + 1:entry.find(">")] if "<" in entry else entry
    base, _, params = uri.partition(";")
    low = params.lower()
    i = low.find("transport=")
    key = base if i < 0 else base + "|" + low[i + 10:].split(";", 1)[0]  # transport counts
    hit = _mine_cache.get(key)
    if hit is None:
        from kamapy.sip.myself import uri_is_myself
        from kamapy.sip.uri import parse_uri
        try:
            hit = bool(uri_is_myself(parse_uri(uri)))
        except Exception:
            hit = False
        if len(_mine_cache) > 1024:
            _mine_cache.clear()
        _mine_cache[key] = hit
    return hit


def _split_rr(value: str) -> list[str]:
    """The comma-separated entries of one Record-Route line (commas inside <> or
    quotes are kept)."""
    if "," not in value:
        return [value] if value.strip() else []
    out, cur, depth, quoted = [], [], 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


_rr_mod: list = []


def _rr_api():
    """rr's API module, or None without rr (looked up once)."""
    if not _rr_mod:
        try:
            from kamapy_modules.rr import api
        except ImportError:
            api = None
        _rr_mod.append(api)
    return _rr_mod[0]


# ---------------------------------------------------------------------- creation
def manage(msg) -> int:
    """dlg_manage(): an initial INVITE gets a dialog; a sequential request is matched."""
    if msg.module_data.get(CUR_KEY) is not None:
        return 1
    try:
        to_tag = msg.to_hdr.tag
    except SipParseError:
        return -1
    if to_tag:
        return 1 if on_request(msg) else -1
    if msg.method != "INVITE":
        return -1
    return 1 if create(msg) is not None else -1


def create(msg) -> Dialog | None:
    ids = msg_ids(msg)
    if ids is None:
        return None
    callid, ftag, _ttag = ids
    s = store()
    h_entry = s.entry_of(callid)
    if cfg.detect_spirals:
        adopted = False
        lk = s.lock(h_entry)
        try:
            for d in s.by_callid(callid):
                if d.tag[0] == ftag and d.state < st.DELETED:
                    # the INVITE came back to us (a spiral): the same dialog
                    msg.module_data[CUR_KEY] = (d.h_entry, d.h_id)
                    spiral = d
                    adopted = d.state == st.UNCONFIRMED and _orphaned(d)
                    if adopted:
                        s.save(d)
                    break
            else:
                spiral = None
        finally:
            s.unlock(lk)
        if adopted:
            # the worker that made it died before t_relay() took its callback: this
            # is the INVITE's retransmission, and its transaction carries the dialog
            log.info("dialog %s of a dead worker's INVITE goes on with its retransmission",
                     callid)
            _arm_invite(msg, spiral)
            return spiral
        if spiral is not None:
            dcb.run(spiral, dcb.DLGCB_SPIRALED, msg, None, 1)
            return spiral
    try:
        from_uri = msg.from_hdr.uri_text if hasattr(msg.from_hdr, "uri_text") else str(msg.from_hdr.uri)
        to_uri = msg.to_hdr.uri_text if hasattr(msg.to_hdr, "uri_text") else str(msg.to_hdr.uri)
    except SipParseError:
        return None
    d = Dialog(callid=callid, from_uri=from_uri, to_uri=to_uri, ftag=ftag)
    d.init_ts = int(time.time())
    d.lifetime = timeout_of(msg)
    # what the script put in $dlg_ctx / dlg_set_property before the dialog existed
    c = msg.module_data.get(CTX_KEY) or {}
    d.toroute = c.get("timeout_route") or ""
    d.sflags |= c.get("flags", 0) & 0xFFFFFFFF
    d.iflags |= c.get("iflags", 0)
    if cfg.send_bye or c.get("timeout_bye"):
        d.iflags |= IFLAG_TIMEOUTBYE
    d.contact[0] = _contact(msg)
    d.cseq[0] = str(msg.cseq.number)
    d.route_set[0] = _rr(msg)
    d.socket[0] = _sock_str(msg.rcv.sock if msg.rcv is not None else None)
    d.armer = os.getpid()
    s.new(d, h_entry)
    msg.module_data[CUR_KEY] = (d.h_entry, d.h_id)
    msg.module_data[CREATED_KEY] = True
    _arm_invite(msg, d)
    stats.add("processed_dialogs")
    dcb.run_global(dcb.DLGCB_CREATED, d, msg)
    return d


def _arm_invite(msg, d: Dialog):
    """The INVITE's Record-Route gets the did, its transaction the dialog's callback
    (the one t_newtran made, or the one t_relay makes)."""
    if cfg.match_mode != MATCH_DID_NONE:
        _rr_api().add_rr_param(msg, f";{cfg.rr_param}={did_value(d)}")
    tmb.api.register_tmcb_req(msg, TMCB_RESPONSE_OUT | TMCB_DESTROY, TM_CB, [d.h_entry, d.h_id])


def _orphaned(d: Dialog) -> bool:
    """d's tm callback died with the process that left it waiting in its request (the
    caller holds d's lock): this process takes it over, d.armer says so once d is
    saved. A request that finds its dialog so is a retransmission: the dead worker's
    copy never made a transaction, or made one and tm absorbs this copy (then the
    callback this one leaves is dropped with it)."""
    me = os.getpid()
    if d.armer == me or not pid_gone(d.armer):
        return False
    d.armer = me
    return True


def on_request_in(_t, _type, msg, _code, _param):
    """Global TMCB_REQUEST_IN: dlg_flag set on an initial INVITE starts tracking."""
    if cfg.dlg_flag < 0 or msg is None or msg.method != "INVITE":
        return
    if not msg.flags & (1 << cfg.dlg_flag) or msg.module_data.get(CUR_KEY) is not None:
        return
    try:
        if msg.to_hdr.tag:
            return
    except SipParseError:
        return
    create(msg)  # its callback waits in msg: tm moves it to t when we return


def _unlink_profiles(d: Dialog):
    p = profiles()
    for name, value in d.profiles:
        if p.known(name):
            p.unlink(name, value)
    d.profiles = []


def _end(d: Dialog, old: int, msg, timeout: bool = False, keep: bool = False):
    """Bookkeeping of a dialog that went to DELETED (the caller holds its lock). With
    `keep` the record stays, in state 5, until the transaction that ended it is
    destroyed (dlg.list shows it meanwhile, as Kamailio's does while tm holds a
    reference); else it goes at once."""
    d.end_ts = int(time.time())
    if old in (st.UNCONFIRMED, st.EARLY):
        if old == st.EARLY:
            stats.add("early_dialogs", -1)
        stats.add("failed_dialogs")
    else:
        stats.add("active_dialogs", -1)
        if timeout:
            stats.add("expired_dialogs")
    _unlink_profiles(d)
    if keep:
        store().set_timer(d, 0)
        store().save(d)
    else:
        store().remove(d)


def _release(h_entry: int, h_id: int):
    """The transaction holding an ended dialog is gone: so is the dialog."""
    s = store()
    lk = s.lock(h_entry)  # not store.locked(): on the call path (docs/duplicates.md)
    try:
        d = s.load(h_entry, h_id)
        if d is not None and d.state == st.DELETED:
            s.remove(d)
    finally:
        s.unlock(lk)


def on_bye_destroy(_t, _type, _msg, _code, param):
    _release(*param)


# ---------------------------------------------------------------------- replies
_TMCB_DESTROY = TMCB_DESTROY


class _Lazy:
    """The reply tm sent, parsed on the first get() (a 180 moves the state only)."""
    __slots__ = ("build", "msg")

    def __init__(self, build):
        self.build = build
        self.msg = None

    def get(self):
        if self.msg is None:
            self.msg = self.build()
        return self.msg


def on_reply_out(t, _type, reply, code, param):
    """TMCB_RESPONSE_OUT on the INVITE's transaction: every reply that went upstream;
    TMCB_DESTROY: the transaction is gone."""
    h_entry, h_id = param
    if _type == _TMCB_DESTROY:
        _release(h_entry, h_id)
        return
    if code < 101:
        return
    if callable(reply) and not hasattr(reply, "module_data"):
        reply = _Lazy(reply)  # tm's builder (define(lazy=True)): parsed on first use
    s = store()
    # lock, load: not store.locked(), every reply of a tracked call (docs/duplicates.md)
    lk = s.lock(h_entry)
    event_name = None
    try:
        d = s.load(h_entry, h_id)
        if d is None:
            return
        old = d.state
        new = st.next_state(old, st.reply_event(code))
        if new is None or (new == old and code >= 200 and old >= st.CONFIRMED_NA):
            return
        if new == st.EARLY and old == st.UNCONFIRMED:
            stats.add("early_dialogs")
        if new == st.CONFIRMED_NA and old != st.CONFIRMED_NA:
            if old == st.EARLY:
                stats.add("early_dialogs", -1)
            stats.add("active_dialogs")
            # dialog:start sees the dialog before the callee's leg and start time are
            # filled in, as Kamailio runs it before populate_leg_info
            d.state = new
            pre = Dialog.unpack(d.pack()) if events.routed(events.START) else None
            d.start_ts = int(time.time())
            reply = reply.get() if type(reply) is _Lazy else reply
            try:
                d.tag[1] = reply.to_hdr.tag or ""
                d.contact[1] = _contact(reply)
                d.cseq[1] = "0"  # the callee sent no request in it yet, as Kamailio keeps it
                entries = [v.strip() for hf in reply.get_headers("record-route")
                           for v in _split_rr(hf.value)]
                callee_rs, caller_rs = callee_route_sets(
                    entries, len(_split_rr(d.route_set[0])) if d.route_set[0] else 0, cfg.keep_proxy_rr)
                d.route_set[1] = callee_rs
                if caller_rs is not None:
                    d.route_set[0] = caller_rs
            except (SipParseError, AttributeError):
                pass
            if 0 <= t.relayed < len(t.branches):
                sock = t.branches[t.relayed].sock
                if sock:
                    d.socket[1] = f"udp:{sock[0]}:{sock[1]}"
            d.tid = t.tid
            s.set_timer(d, time.time() + d.lifetime if d.lifetime else 0)
            s.save(d)
        elif new == st.DELETED:
            d.state = new
            _end(d, old, reply, keep=True)
        else:
            d.state = new
            s.save(d)
        event_name = events.for_transition(old, new)
    finally:
        s.unlock(lk)
    if type(reply) is _Lazy:
        reply = reply.get() if d.cbs or events.routed(event_name) else None
    if d.cbs:
        req = None
        dcb.run(d, dcb.DLGCB_RESPONSE_FWDED, req, reply, 2)
        if new == st.EARLY:
            dcb.run(d, dcb.DLGCB_EARLY, req, reply, 2)
        elif new == st.CONFIRMED_NA and old < st.CONFIRMED_NA:
            dcb.run(d, dcb.DLGCB_CONFIRMED_NA, req, reply, 2)
        elif new == st.DELETED and old < st.CONFIRMED_NA:
            dcb.run(d, dcb.DLGCB_FAILED, req, reply, 2)
    if event_name == events.START:
        events.run(event_name, pre, reply, view=True)
    elif event_name:
        events.run(event_name, d, reply)


# ---------------------------------------------------------------------- in-dialog
def on_route(msg, _params, _param):
    """rr callback: loose_route() handled our Route entry."""
    on_request(msg)


def on_request(msg) -> Dialog | None:
    if msg.module_data.get(CUR_KEY) is not None:
        return current(msg)
    did = None
    if cfg.match_mode != MATCH_DID_NONE:
        rr_api = _rr_api()
        did = rr_api.get_route_param(msg, cfg.rr_param) if rr_api is not None else None
    s = store()
    # with a did, its entry's lock is taken first and the record read once under it
    # (it is read again under the lock only when the match went elsewhere)
    lk = None
    parsed = parse_did(did) if did and cfg.match_mode != MATCH_DID_NONE else None
    if parsed is not None:
        lk = s.lock(parsed[0])
        found = _find(msg, did, cfg.match_mode)
        if found is None or s.lock_index(found[0].h_entry) != lk:
            s.unlock(lk)
            lk = None
    if lk is None:
        found = find(msg, did, cfg.match_mode)
        if found is None:
            return None
    d, direction = found
    reload = lk is None
    if reload:
        lk = s.lock(d.h_entry)
    event_name = None
    try:
        if reload:
            d = s.load(d.h_entry, d.h_id)
        if d is None:
            return None
        msg.module_data[CUR_KEY] = (d.h_entry, d.h_id)
        if d.iflags & IFLAG_CSEQ_DIFF and direction == DIR_DOWNSTREAM:
            from .cseq import refresh
            refresh(msg, d)  # track_cseq_updates: the callee's numbering
        old = d.state
        event = st.request_event(msg.method)
        new = st.next_state(old, event)
        now = time.time()
        # $DLG_status/$DLG_lifetime: set even when the state does not move (a BYE on a
        # dialog already ended, as in a spiral's second pass), as dlg_onroute does
        msg.module_data[ROUTE_KEY] = (old if new is None else new,
                                      int(now) - d.start_ts if d.start_ts else 0)
        if new is None:
            if old == st.DELETED and event == st.EV_REQBYE and _orphaned(d):
                # the worker of the BYE that ended it died before its transaction
                # was made: this retransmission's transaction frees the dialog
                s.save(d)
                tmb.api.register_tmcb(msg, TMCB_DESTROY, TM_BYE, [d.h_entry, d.h_id])
            return d
        d.state = new
        if event == st.EV_REQPRACK and old == st.EARLY:
            d.iflags |= IFLAG_PRACK  # the BYE on timeout then bumps its CSeq
        if new == st.DELETED:
            msg.module_data["dlg.snapshot"] = d
            d.armer = os.getpid()
            _end(d, old, msg, keep=True)
            tmb.api.register_tmcb(msg, TMCB_DESTROY, TM_BYE, [d.h_entry, d.h_id])
        else:
            if new in (st.CONFIRMED, st.EARLY) and event in (st.EV_REQ, st.EV_REQACK, st.EV_REQPRACK):
                # Kamailio's dlg_onroute: the timeout (timeout_avp), the timer unless
                # timeout_noreset, and the sender's contact and CSeq
                t = timeout_of(msg)
                if t != cfg.default_timeout:
                    d.lifetime = t
                reset = not (d.iflags & IFLAG_TIMER_NORESET or cfg.timeout_noreset)
                if new != st.EARLY and (old != st.CONFIRMED or reset):
                    s.set_timer(d, now + d.lifetime if d.lifetime else 0)
                if event != st.EV_REQACK:
                    _refresh_leg(d, msg, direction)
            if new == st.CONFIRMED and old != st.CONFIRMED and cfg.ka_interval > 0 \
                    and d.iflags & (IFLAG_KA_SRC | IFLAG_KA_DST):
                s.set_ka(d, now + cfg.ka_interval)
            s.save(d)
        event_name = events.for_transition(old, new)
    finally:
        s.unlock(lk)
    if d.cbs:
        if event == st.EV_REQBYE and new == st.DELETED and old != st.DELETED:
            dcb.run(d, dcb.DLGCB_TERMINATED, msg, None, direction)
        elif old == st.CONFIRMED_NA and new == st.CONFIRMED:
            dcb.run(d, dcb.DLGCB_CONFIRMED, msg, None, direction)
        elif new in (st.CONFIRMED, st.EARLY) and event in (st.EV_REQ, st.EV_REQPRACK):
            dcb.run(d, dcb.DLGCB_REQ_WITHIN, msg, None, direction)
    if event_name:
        events.run(event_name, d, msg)
    return d


def _refresh_leg(d: Dialog, msg, direction):
    """A request from one side: its CSeq, and for a re-INVITE its Contact."""
    leg = 0 if direction == DIR_DOWNSTREAM else 1 if direction == DIR_UPSTREAM else None
    if leg is None:
        return
    try:
        d.cseq[leg] = str(msg.cseq.number)
        if msg.method == "INVITE":
            c = _contact(msg)
            if c:
                d.contact[leg] = c
    except SipParseError:
        log.error("cseqs update failed")


# ---------------------------------------------------------------------- end of script
def post_script(msg):
    """dialog's POST_SCRIPT callback (declared in its exports): a dialog made for this request that got no transaction
    (the script replied or dropped it) is destroyed, as Kamailio's dlg_cfg_cb does."""
    pending = msg.module_data.get(PENDING_KEY)
    if not pending:
        return  # the callbacks went to a transaction
    for _types, name, param in pending:
        if name == TM_BYE:
            _release(*param)  # the BYE went on statelessly (or nowhere)
    if not msg.module_data.get(CREATED_KEY):
        return
    msg.module_data.pop(PENDING_KEY, None)
    cur = msg.module_data.get(CUR_KEY)
    s = store()
    with s.locked(*cur) as d:
        if d is not None and d.state == st.UNCONFIRMED:
            _unlink_profiles(d)
            s.remove(d)


# ---------------------------------------------------------------------- timeouts
def expire(now: float | None = None):
    """The timer: every dialog past its timeout ends (expired_dialogs, dialog:end).
    A confirmed one first runs its timeout route ($dlg_ctx(timeout_route)); with
    send_bye / $dlg_ctx(timeout_bye) it gets a BYE to both sides instead, and ends
    when they are answered (Kamailio: dlg_ontimeout)."""
    s = store()
    now = time.time() if now is None else now
    for h_entry, h_id in s.due(now):
        with s.locked(h_entry, h_id) as d:
            if d is None:
                continue
            if cfg.dlg_filter_mode & FILTER_LOCALONLY and not local_socket(d.socket[0]):
                continue  # another node's dialog (shared DB): its timeout is not ours
            confirmed = d.state in (st.CONFIRMED_NA, st.CONFIRMED)
            if confirmed:
                d.dflags |= DLG_FLAG_EXPIRED
                s.save(d)
        if confirmed and d.toroute:
            _run_timeout_route(d)
        if confirmed and d.iflags & IFLAG_TIMEOUTBYE:
            from . import requests
            stats.add("expired_dialogs")
            if requests.bye(h_entry, h_id, "all") > 0:
                continue
            log.error("dlg timeout: BYE not sent - callid: '%s'; ending the dialog", d.callid)
            stats.add("expired_dialogs", -1)  # counted again below
        with s.locked(h_entry, h_id) as d:
            if d is None:
                continue
            old = d.state
            if st.next_state(old, st.EV_TIMEOUT) is None:
                continue
            d.state = st.DELETED
            log.warning("dlg timeout - callid: '%s' tags: '%s' '%s' ostate: %d",
                        d.callid, d.tag[0], d.tag[1], old)
            _end(d, old, None, timeout=old >= st.CONFIRMED_NA)
        dcb.run(d, dcb.DLGCB_EXPIRED)
        events.run(events.for_transition(old, st.DELETED), d)


def _run_timeout_route(d: Dialog):
    """route[<timeout_route>] on a faked request with the dialog current."""
    from kamapy.cfg.run_context import run_route
    from kamapy.module import REQUEST_ROUTE
    from kamapy.runtime import rt
    from kamapy.sip.fmsg import next_faked_msg
    routes = rt.routes
    route = routes.named.get(d.toroute) if routes is not None else None
    if route is None:
        return
    msg = next_faked_msg()
    msg.module_data[CUR_KEY] = (d.h_entry, d.h_id)
    try:
        run_route(route, msg, REQUEST_ROUTE)
    except Exception:
        log.exception("timeout route %s failed", d.toroute)
