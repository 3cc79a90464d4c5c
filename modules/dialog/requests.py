"""Requests the dialog module sends inside a dialog (Kamailio: dlg_req_within.c):
the BYE of dlg_bye / dlg.terminate_dlg / a timeout with send_bye, the keepalive
OPTIONS, and REFER of dlg_refer. Each goes out as a tm local transaction (tm's
bound t_request_within), built from what the dialog keeps of the leg it is sent
to: its contact (the R-URI), route set, tags, CSeq and socket.

Towards a leg we speak as the other one: To is the leg's URI and tag, From the other
side's, and the CSeq is the other side's last one plus one (tm's bump), as
Kamailio's build_dlg_t does. A keepalive uses that CSeq minus one on purpose (an
out-of-order CSeq a live UA still answers, mostly with 200 or 500, and a dead one
with 408/481).
"""

from __future__ import annotations

import logging
import time

from kamapy_modules.tm.api import LocalDialog

from . import events, stats
from . import state as st
from .bound import tmb
from .flags import (
    DLG_FLAG_CALLEEBYE,
    DLG_FLAG_CALLERBYE,
    IFLAG_CSEQ_DIFF,
    IFLAG_KA_DST,
    IFLAG_KA_SRC,
    IFLAG_PRACK,
)
from .settings import cfg
from .store import store

log = logging.getLogger("kamapy.dialog")

CALLER, CALLEE = 0, 1

BYE_CB = "dialog.bye_reply"
KA_CB = "dialog.ka_reply"
REFER_CB = "dialog.refer_reply"


def define_callbacks():
    """Bind the callback names in every process (mod_init, before the fork)."""
    define = tmb().define
    define(BYE_CB, bye_reply)
    define(KA_CB, ka_reply)
    define(REFER_CB, _refer_reply)
    define(BRIDGE_CB, _bridge_reply)
    define(BRIDGE_REFER_CB, _bridge_refer_reply)


def split_route_set(rs: str) -> list[str]:
    from .handlers import _split_rr
    return [x.strip() for x in _split_rr(rs or "") if x.strip()]


def _restore_alias(contact: str) -> tuple[str, str]:
    """(R-URI, dst URI) for a contact carrying nathelper's ;alias=ip~port~proto: the
    URI without it, and the address it names (Kamailio: uri_restore_rcv_alias)."""
    low = contact.lower()
    i = low.find(";alias=")
    if i < 0:
        return contact, ""
    j = contact.find(";", i + 1)
    val = contact[i + 7:j if j >= 0 else len(contact)]
    parts = val.split("~")
    if len(parts) != 3:
        return contact, ""
    ip, port, proto = parts
    names = {"1": "udp", "2": "tcp", "3": "tls", "4": "sctp", "5": "ws", "6": "wss"}
    host = f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip
    dst = f"sip:{host}:{port}"
    if names.get(proto, "udp") != "udp":
        dst += f";transport={names[proto]}"
    return contact[:i] + (contact[j:] if j >= 0 else ""), dst


def _cseq_diff(d) -> int:
    """What track_cseq_updates added to the caller's CSeqs on the way to the callee
    (cseq.py): our own requests to the callee count from the renumbered CSeq, so the
    callee never sees one lower than the last it got (Kamailio leaves it out: D-dialog-3)."""
    from .cseq import VAR
    if not d.iflags & IFLAG_CSEQ_DIFF:
        return 0
    try:
        return max(int(d.vars.get(VAR) or 0), 0)
    except ValueError:
        return 0


def local_dialog(d, leg: int) -> LocalDialog | None:
    """What a request towards `leg` is built from (Kamailio: build_dlg_t)."""
    if not d.contact[leg]:
        log.error("no contact available")
        return None
    other = 1 - leg
    try:
        seq = int(d.cseq[other] or "0") + (_cseq_diff(d) if leg == CALLEE else 0)
    except ValueError:
        log.error("invalid cseq")
        return None
    routes = split_route_set(d.route_set[leg])
    target, dst = d.contact[leg], ""
    if not routes:
        target, dst = _restore_alias(target)
    sock = d.socket[leg] or d.socket[other]
    return LocalDialog(
        rem_target=target, dst_uri=dst,
        rem_uri=d.from_uri if leg == CALLER else d.to_uri,
        loc_uri=d.to_uri if leg == CALLER else d.from_uri,
        call_id=d.callid, rem_tag=d.tag[leg], loc_tag=d.tag[other],
        loc_seq=seq, route_set=routes, send_sock=sock)


def _extra(hdrs: str = "", leg: int = CALLER) -> str:
    out = "Max-Forwards: 70\r\n" + _lines(cfg.dlg_extra_hdrs) + _lines(hdrs)
    if leg == CALLEE and cfg.lreq_callee_headers:
        out += _lines(cfg.lreq_callee_headers)
    return out


def _lines(h: str) -> str:
    if not h:
        return ""
    return h if h.endswith("\n") else h + "\r\n"


# ---------------------------------------------------------------------- BYE
def send_bye(d, leg: int, hdrs: str = "") -> bool:
    """One BYE towards leg; True when it went out (the reply comes to bye_reply)."""
    if d.state not in (st.CONFIRMED_NA, st.CONFIRMED):
        log.error("terminating non-confirmed dialogs not supported")
        return False
    ld = local_dialog(d, leg)
    if ld is None:
        return False
    if d.iflags & IFLAG_PRACK:
        ld.loc_seq += 80  # a PRACK moved the CSeq during set-up, as Kamailio bumps
    lid = tmb().t_request_within("BYE", _extra(hdrs, leg), b"", ld, cb=BYE_CB,
                           cbp=[d.h_entry, d.h_id])
    if lid is None:
        log.error("failed to send the BYE request")
        return False
    return True


def bye(h_entry: int, h_id: int, side: str, hdrs: str = "") -> int:
    """dlg_bye(side) / dlg.terminate_dlg: BYE to the caller, the callee or both;
    dialog:end runs at once (as Kamailio's dlg_bye does), the dialog ends when a BYE
    is answered (or times out). Returns 1, or -1."""
    s = store()
    with s.locked(h_entry, h_id) as d:
        if d is None or d.state == st.DELETED:
            return -1
        legs = {"caller": [CALLER], "callee": [CALLEE], "all": [CALLER, CALLEE]}[side]
        todo = []
        for leg in legs:
            flag = DLG_FLAG_CALLERBYE if leg == CALLER else DLG_FLAG_CALLEEBYE
            if side != "all" and d.dflags & flag:
                continue  # a second dlg_bye to the same side does nothing, as Kamailio's
            d.dflags |= flag
            todo.append(leg)
        if not todo:
            return -1
        s.save(d)
        snapshot = s.load(h_entry, h_id)
    sent = 0
    for leg in todo:
        if send_bye(snapshot, leg, hdrs):
            sent += 1
    with s.locked(h_entry, h_id) as d:
        if d is not None:
            d.byes += sent
            s.save(d)
    if side == "all":
        from . import callbacks
        callbacks.run(snapshot, callbacks.DLGCB_TERMINATED)
    if snapshot.state != st.DELETED:
        events.run(events.END, snapshot)
    return 1 if sent == len(todo) else -1


def bye_reply(_t, _type, _reply, code, param):
    """The final reply (or timeout) of one of our BYEs: the first one ends the
    dialog (active_dialogs -1, profiles), the last one frees it."""
    if code < 200:
        return
    from .handlers import _end
    h_entry, h_id = param
    s = store()
    confirmed = None
    with s.locked(h_entry, h_id) as d:
        if d is None:
            return
        d.byes = max(0, d.byes - 1)
        if d.state != st.DELETED:
            old = d.state
            d.state = st.DELETED
            _end(d, old, None, keep=d.byes > 0)
            confirmed = d
        elif d.byes == 0:
            s.remove(d)
        else:
            s.save(d)
    if confirmed is not None:
        from . import callbacks
        callbacks.run(confirmed, callbacks.DLGCB_TERMINATED_CONFIRMED, None, _reply)


# ---------------------------------------------------------------------- keepalives
def send_ka(d, leg: int) -> bool:
    from .handlers import FILTER_LOCALONLY, local_socket
    if cfg.dlg_filter_mode & FILTER_LOCALONLY and not local_socket(d.socket[leg]):
        return False  # not our dialog (dlg_filter_mode 1)
    if d.state != st.CONFIRMED:
        return False
    ld = local_dialog(d, leg)
    if ld is None:
        return False
    # tm adds one; take two off, so the CSeq is one below the last one (Kamailio)
    ld.loc_seq = (ld.loc_seq - 2 if ld.loc_seq > 1 else ld.loc_seq - 1) & 0xFFFFFFFF
    hdrs = _lines(cfg.lreq_callee_headers) if leg == CALLEE else ""
    return tmb().t_request_within("OPTIONS", hdrs, b"", ld, cb=KA_CB,
                            cbp=[d.h_entry, d.h_id, leg]) is not None


def ka_reply(_t, _type, _reply, code, param):
    """A keepalive's final reply: 408 and 481 count as failures; ka_failed_limit of
    them in a row end the dialog in 10 s (its timeout: a BYE with send_bye)."""
    if code < 200:
        return
    h_entry, h_id, leg = param
    s = store()
    with s.locked(h_entry, h_id) as d:
        if d is None or d.state != st.CONFIRMED:
            return
        if code in (408, 481):
            if code == 408 and d.cseq[leg] in ("", "\0"):
                return
            d.ka_fail[leg] += 1
            if d.ka_fail[leg] >= cfg.ka_failed_limit:
                d.lifetime = 10
                s.set_timer(d, time.time() + 10)
        else:
            d.ka_fail[leg] = 0
        s.save(d)


def run_ka(now: float):
    """The keepalive timer (every ka_timer s): OPTIONS to each leg marked ka-src /
    ka-dst of each confirmed dialog whose ka_interval passed."""
    if cfg.ka_interval <= 0:
        return
    s = store()
    for h_entry, h_id in s.ka_due(now):
        with s.locked(h_entry, h_id) as d:
            if d is None or d.state == st.DELETED:
                continue
            s.set_ka(d, now + cfg.ka_interval)
        if d.iflags & IFLAG_KA_SRC:
            send_ka(d, CALLER)
        if d.iflags & IFLAG_KA_DST:
            send_ka(d, CALLEE)


# ---------------------------------------------------------------------- REFER
def _refer_dialog(d, side: int, seq_bump: int = 0) -> LocalDialog | None:
    """Kamailio's dlg_transfer: a copy of the dialog with `side` as its caller; the
    REFER goes to the copy's callee, i.e. the *other* leg of the call, with To = the
    URI of `side` and the other leg's tag, From = the other URI and the tag of
    `side`, CSeq = the CSeq of `side` + 1. Checked on the wire against Kamailio
    5.6.3 (cases/dialog/dlg_refer_callee): configs written for it get the same."""
    other = 1 - side
    if not d.contact[other]:
        log.error("no contact available")
        return None
    try:
        seq = int(d.cseq[side] or "0") + seq_bump + (_cseq_diff(d) if side == CALLER else 0)
    except ValueError:
        log.error("invalid cseq")
        return None
    uri = {CALLER: d.from_uri, CALLEE: d.to_uri}
    return LocalDialog(rem_target=d.contact[other], rem_uri=uri[side], loc_uri=uri[other],
                       call_id=d.callid, rem_tag=d.tag[other], loc_tag=d.tag[side],
                       loc_seq=seq, route_set=split_route_set(d.route_set[other]))


def refer(d, side: int, to: str) -> bool:
    """dlg_refer(side, to): REFER with Referred-By (bridge_controller), Refer-To and
    Contact (bridge_contact); once it is answered (or times out) a BYE follows on the
    same leg, as Kamailio sends it (no callback: the dialog ends by the UAs' own BYE
    or its timeout)."""
    ld = _refer_dialog(d, side)
    if ld is None:
        return False
    hdrs = (f"Referred-By: {cfg.bridge_controller}\r\nRefer-To: {to}\r\n"
            f"Contact: <{cfg.bridge_contact}>\r\n")
    return tmb().t_request_within("REFER", hdrs, b"", ld, cb=REFER_CB,
                            cbp=[d.h_entry, d.h_id, side]) is not None


def _refer_reply(_t, _type, _reply, code, param):
    if code < 200:
        return
    h_entry, h_id, side = param
    d = store().load(h_entry, h_id)
    if d is None:
        return
    ld = _refer_dialog(d, side, seq_bump=1)  # the BYE after the REFER: one CSeq on
    if ld is None or tmb().t_request_within("BYE", "", b"", ld) is None:
        log.error("failed to send the BYE after the REFER")


# ---------------------------------------------------------------------- bridge
HOLD_SDP = (b"v=0\r\no=kamailio-bridge 0 0 IN IP4 0.0.0.0\r\ns=kamailio\r\nc=IN IP4 0.0.0.0\r\n"
            b"t=0 0\r\nm=audio 9 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n")
BRIDGE_CB = "dialog.bridge_reply"
BRIDGE_REFER_CB = "dialog.bridge_refer_reply"


def bridge(frm: str, to: str, op: str = "", body: bytes | None = None) -> bool:
    """dlg_bridge(from, to, op) / dlg.bridge_dlg (Kamailio: dlg_transfer.c): call
    `from` as bridge_controller (an INVITE with a hold SDP, through `op` when
    given); once it answers, REFER it to `to`, then BYE."""
    hdrs = f"Contact: <{cfg.bridge_contact}>\r\nContent-Type: application/sdp\r\n"
    lid = tmb().t_request("INVITE", frm, frm, cfg.bridge_controller, hdrs,
                          HOLD_SDP if body is None else body, next_hop=op or "",
                          cb=BRIDGE_CB, cbp=[to])
    return lid is not None


def _pack_ld(ld: LocalDialog) -> list:
    return [getattr(ld, f) for f in LocalDialog.__slots__ if f != "send_sock"]


def _unpack_ld(v: list) -> LocalDialog:
    ld = LocalDialog()
    for f, x in zip([f for f in LocalDialog.__slots__ if f != "send_sock"], v, strict=True):
        setattr(ld, f, x)
    return ld


def _bridge_reply(_t, _type, reply, code, param):
    """The bridged party answered: a dialog from its 2xx (our From tag and CSeq, its
    To tag, Contact and Record-Route), then REFER it to the target."""
    if code < 200 or code >= 300 or reply is None:
        if code >= 300:
            log.info("dlg_bridge: the call was refused (%d)", code)
        return
    from kamapy.sip.errors import SipParseError

    from .handlers import _contact, _split_rr
    try:
        rr = [x.strip() for hf in reply.get_headers("record-route") for x in _split_rr(hf.value)]
        rr.reverse()  # a UAC's route set (RFC 3261 12.1.2)
        ld = LocalDialog(rem_target=_contact(reply), rem_uri=str(reply.to_hdr.uri),
                         loc_uri=str(reply.from_hdr.uri), call_id=reply.callid,
                         rem_tag=reply.to_hdr.tag or "", loc_tag=reply.from_hdr.tag or "",
                         loc_seq=int(reply.cseq.number), route_set=rr)
    except (SipParseError, AttributeError) as e:
        log.error("dlg_bridge: bad 2xx: %s", e)
        return
    hdrs = (f"Referred-By: {cfg.bridge_controller}\r\nRefer-To: {param[0]}\r\n"
            f"Contact: <{cfg.bridge_contact}>\r\n")
    if tmb().t_request_within("REFER", hdrs, b"", ld, cb=BRIDGE_REFER_CB, cbp=_pack_ld(ld)) is None:
        log.error("failed to send the REFER request")


def _bridge_refer_reply(_t, _type, _reply, code, param):
    if code < 200:
        return
    ld = _unpack_ld(param)
    ld.loc_seq += 1  # after REFER, the CSeq must be increased (as Kamailio does)
    if tmb().t_request_within("BYE", "", b"", ld) is None:
        log.error("failed to send the BYE after the REFER")


__all__ = ["bye", "send_bye", "send_ka", "refer", "run_ka", "define_callbacks", "stats"]
