"""Requests and replies for the in-process tm tests."""

from __future__ import annotations

import itertools

from kamapy.sip.msg import RecvInfo, SipMsg

_n = itertools.count(1)


def request(lab, method="INVITE", user="bob", to_port=None, branch=None, callid=None,
            cseq=1, to_tag=None, extra="", src_port=None) -> SipMsg:
    n = next(_n)
    to_port = to_port or lab.uas.port
    src_port = src_port or lab.uac.port
    branch = branch or f"z9hG4bK-t{n}"
    callid = callid or f"call-{n}@test"
    to = f"<sip:{user}@127.0.0.1:{to_port}>" + (f";tag={to_tag}" if to_tag else "")
    data = (f"{method} sip:{user}@127.0.0.1:{to_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{src_port};branch={branch};rport\r\n"
            f"From: <sip:alice@127.0.0.1:{src_port}>;tag=a{n}\r\nTo: {to}\r\n"
            f"Call-ID: {callid}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: 0\r\n\r\n").encode()
    return received(lab, data, src_port)


def received(lab, data: bytes, src_port: int) -> SipMsg:
    return SipMsg(data, RecvInfo("127.0.0.1", src_port, "127.0.0.1", lab.si.port, 1, lab.si))


def same_request(lab, msg: SipMsg) -> SipMsg:
    """A retransmission of msg (a fresh message object with the same bytes)."""
    return received(lab, msg.data, msg.rcv.src_port)


def cancel_for(lab, invite: SipMsg) -> SipMsg:
    """The CANCEL of an INVITE as the caller sends it (same top Via)."""
    text = invite.text
    head, _, _ = text.partition("\r\n")
    lines = [ln for ln in text.split("\r\n")[1:] if ln.split(":")[0] in ("Via", "From", "To", "Call-ID")]
    data = (head.replace("INVITE", "CANCEL", 1) + "\r\n" + "\r\n".join(lines) +
            f"\r\nCSeq: {invite.cseq.number} CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    return received(lab, data.encode(), invite.rcv.src_port)


def ack_for(lab, invite: SipMsg, reply: bytes) -> SipMsg:
    """The caller's ACK to a negative final reply (same branch as the INVITE)."""
    rpl = SipMsg(reply)
    to = rpl.get_header("to")
    text = invite.text
    lines = [ln for ln in text.split("\r\n")[1:] if ln.split(":")[0] in ("Via", "From", "Call-ID")]
    data = (f"ACK {invite.ruri} SIP/2.0\r\n" + "\r\n".join(lines) + f"\r\nTo: {to.value}\r\n"
            f"CSeq: {invite.cseq.number} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    return received(lab, data.encode(), invite.rcv.src_port)


def reply_to(lab, forwarded: bytes, code: int, reason: str = "", to_tag="callee", cseq_method=None,
             src_port=None) -> SipMsg:
    """A callee's reply to a request tm forwarded (all its Vias echoed)."""
    req = SipMsg(forwarded)
    reason = reason or {100: "Trying", 180: "Ringing", 200: "OK", 486: "Busy Here", 404: "Not Found",
                        603: "Decline", 487: "Request Terminated", 503: "Service Unavailable"}.get(code, "X")
    out = [f"SIP/2.0 {code} {reason}"]
    for hf in req.headers:
        if hf.key == "via":
            out.append(f"Via: {hf.value}")
        elif hf.key in ("from", "call-id"):
            out.append(f"{hf.name}: {hf.value}")
        elif hf.key == "to":
            tag = f";tag={to_tag}" if code > 100 and to_tag and ";tag=" not in hf.value else ""
            out.append(f"To: {hf.value}{tag}")
        elif hf.key == "cseq":
            num, method = hf.value.split()
            out.append(f"CSeq: {num} {cseq_method or method}")
    data = ("\r\n".join(out) + "\r\nContent-Length: 0\r\n\r\n").encode()
    return received(lab, data, src_port or lab.uas.port)


def status(data: bytes | None) -> int | None:
    if not data or not data.startswith(b"SIP/2.0 "):
        return None
    return int(data[8:11])


def method(data: bytes | None) -> str | None:
    if not data or data.startswith(b"SIP/"):
        return None
    return data.split(b" ", 1)[0].decode()
