"""The server side of a transaction: replies that go upstream (Kamailio: t_reply.c).

Every reply sent upstream -- generated here (t_reply, 100 Trying, 408) or relayed
from a branch -- goes through `send_upstream`, which remembers it as the last reply,
so a retransmitted request is answered with it. A final reply moves the transaction
on: a negative one to an INVITE is retransmitted until the ACK comes (RFC 3261
timer G/H), anything else waits wt_timer for stray retransmissions, then is freed.
"""

from __future__ import annotations

import logging

from kamapy.net.socket_info import socket_for
from kamapy.runtime import rt
from kamapy.sip.msg import RecvInfo, SipMsg
from kamapy.sip.reply import build_reply, tm_to_tag

from . import stats
from .config import cfg
from .outbox import send as send_to
from .transaction import B_FINAL, T_ACKED, T_IS_INVITE, T_LOCAL_REPLY, T_ON_WAIT, Transaction, rpl_send_flags

log = logging.getLogger("kamapy.tm")


def conid_of(t: Transaction) -> int:
    """The TCP/TLS connection the request came on (0 over UDP)."""
    return t.rcv[5] if len(t.rcv) > 5 else 0


def recv_info(t: Transaction) -> RecvInfo:
    src_ip, src_port, dst_ip, dst_port, proto = t.rcv[:5]
    return RecvInfo(src_ip, src_port, dst_ip, dst_port, proto, socket_for((dst_ip, dst_port)))


def request_msg(t: Transaction, lumped: bool = False) -> SipMsg:
    """The transaction's request as a message again (failure_route, local replies)."""
    data = t.req_lumped if lumped and t.req_lumped is not None else t.req
    return SipMsg(data, recv_info(t))


def send_upstream(t: Transaction, buf: bytes, code: int) -> bool:
    """Send a reply to the request's sender and remember it as the last one."""
    ip, port = t.rpl_dst
    ok = send_to(t.rcv[4], buf, ip, port, socket_for((t.rcv[2], t.rcv[3])), conid_of(t), rpl_send_flags(t))
    if t.cbs:  # TMCB_RESPONSE_OUT (nat_traversal, dialog)
        from .callbacks import TMCB_RESPONSE_OUT, run
        run(t, TMCB_RESPONSE_OUT, lambda: SipMsg(buf), code)
    t.uas_buf = buf
    if code > t.uas_code or code >= 200:
        t.uas_code = code
    stats.inc(stats.RPL_SENT)
    if code >= 200:
        stats.completed(code)
    return ok


def resend_last(t: Transaction) -> bool:
    """Answer a retransmitted request with the last reply sent (if any)."""
    if not t.uas_buf:
        return False
    ip, port = t.rpl_dst
    return send_to(t.rcv[4], t.uas_buf, ip, port, socket_for((t.rcv[2], t.rcv[3])), conid_of(t),
                   rpl_send_flags(t))


def local_reply_bytes(t: Transaction, msg: SipMsg, code: int, reason: str,
                      headers: str = "", body: str | bytes = "") -> bytes:
    """A reply generated here to the transaction's request msg. The To-tag (>= 180)
    is the same for every local reply of this transaction."""
    to_tag = None
    if code >= 180 and not msg.to_tag:
        if t.uas_totag is None:
            t.uas_totag = tm_to_tag(msg)
        to_tag = t.uas_totag
    extra = "".join(msg.reply_lumps) if msg.reply_lumps else ""
    if 300 <= code < 400:
        extra += redirect_contacts(msg)
    return build_reply(msg, code, reason, to_tag=to_tag, headers=extra + headers,
                       body=body or msg.reply_body, server_header=rt.server_header)


def redirect_contacts(msg: SipMsg) -> str:
    """Contact headers from the destination set, for a 3xx t_reply."""
    uris = []
    if msg.new_uri is not None and msg.new_uri != msg.ruri:
        uris.append(msg.new_uri)
    uris.extend(b.uri for b in msg.branches)
    return "".join(f"Contact: <{u}>\r\n" for u in uris)


def reply_local(t: Transaction, msg: SipMsg, code: int, reason: str, now: float,
                headers: str = "", body: str | bytes = "") -> int:
    """t_reply: a reply from here, stateful. The caller holds the transaction (or
    owns it alone, before it is stored). 1 when sent, -1 otherwise."""
    if t.uas_code >= 200 and not (t.flags & T_IS_INVITE and 200 <= code < 300 and t.uas_code < 300):
        log.error("t_reply: the transaction already has a final reply (%d); %d not sent",
                  t.uas_code, code)
        return -1
    try:
        buf = local_reply_bytes(t, msg, code, reason, headers, body)
    except Exception as e:  # a request too broken to answer
        log.error("t_reply: cannot build %d: %s", code, e)
        return -1
    stats.inc(stats.RPL_GENERATED)
    if code >= 200:
        t.flags |= T_LOCAL_REPLY
        t.relayed = -2
        final_sent(t, code, now)
        from .cancel import cancel_pending, reason_for
        if t.flags & T_IS_INVITE:
            cancel_pending(t, now, reason_for(code))
    return 1 if send_upstream(t, buf, code) else -1


def final_sent(t: Transaction, code: int, now: float):
    """Timers once a final reply went upstream: branch timers stop; a negative reply to
    an INVITE is retransmitted until ACKed (timer G, up to timer H = 64*T1)."""
    for b in t.branches:
        b.retr_due = 0.0
        b.fr_due = 0.0
        # a finished branch keeps its request only to ACK a retransmitted negative reply
        if b.flags & B_FINAL and (b.code < 300 or not t.flags & T_IS_INVITE):
            b.buf = b""
    if t.flags & T_IS_INVITE and code >= 300 and t.rcv[4] == 1:
        t.uas_retr_ivl = t.t1
        t.uas_retr_due = now + t.t1
        t.wait_due = now + 64 * t.t1
    else:
        t.uas_retr_due = 0.0
        put_on_wait(t, now)


def put_on_wait(t: Transaction, now: float):
    if not t.wait_due or t.wait_due > now + cfg.wt:
        t.wait_due = now + cfg.wt
    if not t.flags & T_ON_WAIT:
        t.flags |= T_ON_WAIT
        stats.inc(stats.WAITING)


def ack_received(t: Transaction, now: float):
    """The hop-by-hop ACK to our negative final reply: stop retransmitting it."""
    t.flags |= T_ACKED
    t.uas_retr_due = 0.0
    t.wait_due = 0.0
    put_on_wait(t, now)


def retransmit_final(t: Transaction, now: float):
    """Timer G: resend the negative final reply, doubling the interval up to T2."""
    resend_last(t)
    t.uas_retr_ivl = min(t.uas_retr_ivl * 2, t.t2)
    t.uas_retr_due = now + t.uas_retr_ivl
