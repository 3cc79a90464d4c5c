"""CANCEL and hop-by-hop ACK towards the branches (Kamailio: t_cancel.c, t_msgbuilder.c).

Both are built from the request as it was sent on the branch (RFC 3261 §9.1, §17.1.1.3):
same R-URI, our Via (same branch), Route set, From, Call-ID and CSeq number; the ACK
takes the To of the reply it acknowledges.

How a branch that has no reply yet is cancelled follows cancel_b_method: 1 (default)
keeps retransmitting the request and sends the CANCEL when a provisional reply
comes, 0 ends the branch at once as if a 487 had come, 2 sends the CANCEL at once.
"""

from __future__ import annotations

import logging

from kamapy.cfgenv import UAC_CSEQ_AUTH, UAC_CSEQ_REFRESH
from kamapy.net.socket_info import socket_for
from kamapy.sip.msg import SipMsg

from .config import cfg
from .outbox import send as send_to
from .transaction import (
    B_CANCEL_PENDING,
    B_CANCEL_REPLIED,
    B_CANCEL_SENT,
    B_FINAL,
    B_REPLIED,
    T_CANCELED,
    T_NO_E2E_CANCEL_REASON,
    Branch,
    Transaction,
    fwd_send_flags,
)

log = logging.getLogger("kamapy.tm")

cancel_b_method = [1]  # set from the modparam in mod_init


# the header names build_local copies or rewrites, matched as Kamailio's lightweight
# parser matches them: the name (or its compact form) right before ' ' or ':'
_NAMES = (("cseq", "cseq"), ("via", "via"), ("from", "from"), ("to", "to"),
          ("require", "require"), ("proxy-require", "proxy-require"),
          ("content-length", "content-length"), ("call-id", "call-id"), ("route", "route"),
          ("max-forwards", "max-forwards"), ("v", "via"), ("f", "from"), ("t", "to"),
          ("l", "content-length"), ("i", "call-id"))


# the headers with the CSeq dialog's track_cseq_updates gave the INVITE (kamapy.cfgenv):
# the CANCEL and the ACK carry them too, so they leave with the same CSeq (Kamailio
# copies them for a request uac_auth() answered)
_CSEQ_HDRS = (UAC_CSEQ_AUTH + ":", UAC_CSEQ_REFRESH + ":")


def _kind(line: str) -> tuple[str, int]:
    """(which header, length of its name) of a header line; ("", 0) for any other."""
    low = line[:15].lower()
    for name, kind in _NAMES:
        n = len(name)
        if low.startswith(name) and line[n:n + 1] in (" ", ":"):
            return kind, n
    return "", 0


def _lines(buf: str, start: int):
    """The header lines of buf from offset start (folded lines joined), until the
    empty line."""
    end = len(buf)
    i = start
    while i < end and buf[i] not in "\r\n":
        j = i
        while True:
            nl = buf.find("\n", j)
            j = end if nl < 0 else nl + 1
            if j >= end or buf[j] not in " \t":
                break
        yield buf[i:j]
        i = j


def build_local(buf: bytes, method: str, to_line: str | None = None, reason: str = "",
                extra_prefix: str = "") -> bytes:
    """A CANCEL or an ACK (to a negative reply) rewritten from the INVITE as it was sent
    on the branch (RFC 3261 §9.1, §17.1.1.3), in that INVITE's header order: its first
    Via, From, Call-ID, Route, Max-Forwards, the CSeq number with the new method, To (or
    to_line: the To of the reply an ACK acknowledges), Content-Length: 0 -- nothing else
    -- then the Reason lines (Kamailio: build_local_reparse, reparse_invite=1)."""
    text = buf.decode("latin-1")
    eol = text.find("\n") + 1
    if not text[:7].upper().startswith("INVITE ") or eol <= 0:
        raise ValueError("not an INVITE")
    out = [method, " ", text[7:eol]]
    first_via = True
    extra = extra_prefix.lower()
    for line in _lines(text, eol):
        kind, n = _kind(line)
        if kind == "cseq":
            k = n
            while k < len(line) and line[k] in ": \t0123456789":
                k += 1
            out.append(f"{line[:k]}{method}\r\n")
        elif kind == "via":
            if first_via:
                out.append(line)
                first_via = False
        elif kind == "to":
            out.append(to_line if to_line else line)
        elif kind in ("from", "call-id", "route", "max-forwards"):
            out.append(line)
        elif kind == "content-length":
            out.append(line[:n] + ": 0\r\n")
        elif kind == "" and line.startswith(_CSEQ_HDRS):
            out.append(line)  # dialog's track_cseq_updates renumbers it when it leaves
        elif kind == "" and extra and line[:len(extra)].lower() == extra:
            out.append(line)  # ac_extra_hdrs: headers with that prefix go along
    out.append(reason)
    out.append("\r\n")
    return "".join(out).encode("latin-1")


def build_cancel(buf: bytes, reason_hdr: str = "", to_line: str | None = None) -> bytes:
    return build_local(buf, "CANCEL", to_line, reason_hdr, cfg.ac_extra_hdrs)


def build_ack(buf: bytes, reply: SipMsg) -> bytes:
    """The ACK to a negative final reply of the branch whose request was buf."""
    to = reply.get_header("to")
    to_line = reply.text[to.start:to.end] if to is not None else None
    return build_local(buf, "ACK", to_line, "", cfg.ac_extra_hdrs)


def send_branch(b: Branch, data: bytes) -> bool:
    return send_to(b.proto, data, b.ip, b.port, socket_for(b.sock), 0, fwd_send_flags(b))


def reason_for(code: int, text: bool = True) -> str:
    """The Reason line of a CANCEL tm sends because the transaction ended with `code`
    (RFC 3326; Kamailio names only the 200's cause in words, and not in a CANCEL that
    waited for the branch's provisional reply)."""
    if code <= 0 or not cfg.local_cancel_reason:
        return ""
    if code == 200 and text:
        return 'Reason: SIP;cause=200;text="Call completed elsewhere"\r\n'
    return f"Reason: SIP;cause={code}\r\n"


def e2e_reason(t: Transaction, cancel: SipMsg) -> str | None:
    """The Reason lines of a received CANCEL that go on to the branches (all of them, as
    they came), None when there are none or it is turned off."""
    if not cfg.e2e_cancel_reason or t.flags & T_NO_E2E_CANCEL_REASON:
        return None
    lines = [cancel.text[hf.start:hf.end] for hf in cancel.headers if hf.key == "reason"]
    return "".join(lines) or None


def late_reason(t: Transaction) -> str:
    """The Reason for a CANCEL that had to wait for the branch's first provisional
    reply: the e2e CANCEL's, else the final code the transaction ended with."""
    if t.cancel_reason is not None:
        return t.cancel_reason
    return reason_for(t.uas_code if t.uas_code >= 200 else 0, text=False)


def _request_to(t: Transaction) -> str | None:
    """The To line of the request as received: the CANCEL's To (Kamailio: t->to_hdr)."""
    try:
        m = SipMsg(t.req)
        hf = m.get_header("to")
    except Exception:
        return None
    return m.text[hf.start:hf.end] if hf is not None else None


def send_cancel(t: Transaction, b: Branch, now: float, reason_hdr: str = ""):
    """CANCEL a branch that has had a provisional reply; retransmitted until answered."""
    try:
        b.cancel = build_cancel(b.buf, reason_hdr, _request_to(t))
    except Exception as e:
        log.error("cannot build CANCEL for %s: %s", b.uri, e)
        return
    b.flags = (b.flags | B_CANCEL_SENT) & ~B_CANCEL_PENDING
    b.retr_due = 0.0
    # the CANCEL has a timer of its own: retransmitted (UDP) for fr_timer, then left;
    # the INVITE branch keeps its final response timer and ends (487 or 408) by it
    b.cancel_end = now + t.fr
    if b.proto == 1:
        b.cancel_ivl = t.t1
        b.cancel_due = now + t.t1
    send_branch(b, b.cancel)


def cancel_branch(t: Transaction, idx: int, now: float, reason_hdr: str = ""):
    b = t.branches[idx]
    if not b.pending or b.flags & (B_CANCEL_SENT | B_CANCEL_PENDING):
        return
    if b.flags & B_REPLIED or cancel_b_method[0] == 2:
        send_cancel(t, b, now, reason_hdr)
    elif cancel_b_method[0] == 0:
        b.flags |= B_FINAL | B_CANCEL_SENT
        b.code = 487
        b.reason = "Request Terminated"
        b.retr_due = b.fr_due = 0.0
    else:
        # retransmissions go on, the branch ends by its final response timer (Kamailio:
        # "wait for the final timeout"), or is CANCELed when it replies
        b.flags |= B_CANCEL_PENDING
        if not b.fr_due:
            b.fr_due = now + t.fr


def cancel_pending(t: Transaction, now: float, reason_hdr: str = "", skip: int = -1):
    """CANCEL every branch still waiting for a final reply (but `skip`)."""
    for i, b in enumerate(t.branches):
        if i != skip and b.pending:
            cancel_branch(t, i, now, reason_hdr)


def cancel_transaction(t: Transaction, now: float, cancel: SipMsg) -> int:
    """An e2e CANCEL for the INVITE transaction t arrived: how many branches it CANCELs
    (now, or once they reply)."""
    t.flags |= T_CANCELED
    t.cancel_reason = e2e_reason(t, cancel)
    pending = sum(1 for b in t.branches if b.pending)
    cancel_pending(t, now, t.cancel_reason or "")
    return pending


def on_canceled_provisional(t: Transaction, b: Branch, now: float):
    """A provisional reply on a branch being CANCELed: the CANCEL goes (again), the
    reply goes no further (Kamailio: reply_received, F_RB_CANCELED)."""
    if b.cancel is not None:
        send_branch(b, b.cancel)
    else:
        send_cancel(t, b, now, late_reason(t))


def cancel_replied(b: Branch):
    b.flags |= B_CANCEL_REPLIED
    b.cancel_due = 0.0


def retransmit_cancel(t: Transaction, b: Branch, now: float):
    if b.flags & B_CANCEL_REPLIED or b.cancel is None or now >= b.cancel_end:
        b.cancel_due = 0.0
        return
    send_branch(b, b.cancel)
    b.cancel_ivl = min(b.cancel_ivl * 2, t.t2)
    b.cancel_due = now + b.cancel_ivl if now + b.cancel_ivl < b.cancel_end else 0.0
