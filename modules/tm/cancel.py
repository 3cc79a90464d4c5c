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

from kamapy.sip.msg import SipMsg

from .outbox import send as send_to
from .transaction import (
    B_CANCEL_PENDING,
    B_CANCEL_REPLIED,
    B_CANCEL_SENT,
    B_FINAL,
    B_REPLIED,
    T_CANCELED,
    Branch,
    Transaction,
)
from .uas import socket_for

log = logging.getLogger("kamapy.tm")

cancel_b_method = [1]  # set from the modparam in mod_init


def _copy(m: SipMsg, keys) -> tuple[list[str], str]:
    """The header lines of keys (in order), and our Via line (the first Via line)."""
    text = m.text
    out = []
    via = ""
    for hf in m.headers:
        k = hf.key
        if k == "via":
            if not via:
                via = text[hf.start:hf.end]
        elif k in keys:
            out.append(text[hf.start:hf.end])
    return out, via


def build_cancel(buf: bytes, reason_hdr: str = "") -> bytes:
    m = SipMsg(buf)
    lines, via = _copy(m, ("route", "from", "to", "call-id"))
    out = [f"CANCEL {m.ruri} SIP/2.0\r\n", via, *lines,
           f"CSeq: {m.cseq.number} CANCEL\r\n", "Max-Forwards: 70\r\n"]
    if reason_hdr:
        out.append(reason_hdr)
    out.append("Content-Length: 0\r\n\r\n")
    return "".join(out).encode("latin-1")


def build_ack(buf: bytes, reply: SipMsg) -> bytes:
    """The ACK to a negative final reply of the branch whose request was buf."""
    m = SipMsg(buf)
    lines, via = _copy(m, ("route", "from", "call-id"))
    to = reply.get_header("to")
    to_line = reply.text[to.start:to.end] if to is not None else ""
    out = [f"ACK {m.ruri} SIP/2.0\r\n", via, *lines, to_line,
           f"CSeq: {m.cseq.number} ACK\r\n", "Max-Forwards: 70\r\n", "Content-Length: 0\r\n\r\n"]
    return "".join(out).encode("latin-1")


def send_branch(b: Branch, data: bytes) -> bool:
    return send_to(b.proto, data, b.ip, b.port, socket_for(b.sock))


def send_cancel(t: Transaction, b: Branch, now: float, reason_hdr: str = ""):
    """CANCEL a branch that has had a provisional reply; retransmitted until answered."""
    try:
        b.cancel = build_cancel(b.buf, reason_hdr)
    except Exception as e:
        log.error("cannot build CANCEL for %s: %s", b.uri, e)
        return
    b.flags = (b.flags | B_CANCEL_SENT) & ~B_CANCEL_PENDING
    b.retr_due = 0.0
    if b.proto == 1:
        b.cancel_ivl = t.t1
        b.cancel_due = now + t.t1
    # wait fr_timer for the 487; then the branch ends as timed out
    b.fr_due = now + t.fr
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
        b.flags |= B_CANCEL_PENDING
        if not b.fr_due or b.fr_due > now + t.fr:
            b.fr_due = now + t.fr


def cancel_pending(t: Transaction, now: float, reason_hdr: str = "", skip: int = -1):
    """CANCEL every branch still waiting for a final reply (but `skip`)."""
    for i, b in enumerate(t.branches):
        if i != skip and b.pending:
            cancel_branch(t, i, now, reason_hdr)


def cancel_transaction(t: Transaction, now: float, reason_hdr: str = ""):
    """An e2e CANCEL for the INVITE transaction t arrived."""
    t.flags |= T_CANCELED
    cancel_pending(t, now, reason_hdr)


def cancel_replied(b: Branch):
    b.flags |= B_CANCEL_REPLIED
    b.cancel_due = 0.0


def retransmit_cancel(t: Transaction, b: Branch, now: float):
    if b.flags & B_CANCEL_REPLIED or b.cancel is None:
        b.cancel_due = 0.0
        return
    send_branch(b, b.cancel)
    b.cancel_ivl = min(b.cancel_ivl * 2, t.t2)
    b.cancel_due = now + b.cancel_ivl
