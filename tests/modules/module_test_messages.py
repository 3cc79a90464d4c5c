"""Messages and helpers the module unit tests share: realistic requests built from a
few fields, a server socket setup, and the message as it would be sent on."""

from __future__ import annotations

from kamapy.net.socket_info import SocketInfo
from kamapy.runtime import rt
from kamapy.sip.msg import RecvInfo, SipMsg
from kamapy.sip.outgoing import build_message, build_request

PROXY_IP = "192.0.2.10"
PROXY_PORT = 5060


def request(method="INVITE", ruri="sip:bob@example.com", *, headers="", body="",
            to_tag=None, from_tag="fromtag1", via="SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc",
            cseq=None, content_type=None, src=("198.51.100.7", 5060), sock=None) -> SipMsg:
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {ruri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: Alice <sip:alice@example.org>;tag={from_tag}",
        f"To: {to}",
        "Call-ID: 3848276298220188511@198.51.100.7",
        f"CSeq: {cseq or '1 ' + method}",
        "Contact: <sip:alice@198.51.100.7:5060>",
    ]
    lines += [h for h in headers.split("\r\n") if h]
    if body and content_type is None:
        content_type = "application/sdp"
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    text = "\r\n".join(lines) + "\r\n\r\n" + body
    rcv = RecvInfo(src_ip=src[0], src_port=src[1], dst_ip=PROXY_IP, dst_port=PROXY_PORT, sock=sock)
    return SipMsg(text.encode("latin-1"), rcv)


def reply(status=200, reason="OK", *, headers="", body="") -> SipMsg:
    text = (
        f"SIP/2.0 {status} {reason}\r\n"
        "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
        "From: Alice <sip:alice@example.org>;tag=fromtag1\r\n"
        "To: <sip:bob@example.com>;tag=totag9\r\n"
        "Call-ID: 3848276298220188511@198.51.100.7\r\n"
        "CSeq: 1 INVITE\r\n"
        + "".join(h + "\r\n" for h in headers.split("\r\n") if h)
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return SipMsg(text.encode("latin-1"), RecvInfo(src_ip="203.0.113.5", src_port=5060))


def use_sockets(*specs) -> list[SocketInfo]:
    """Make rt.sockets the given ("udp", host, port) sockets (not bound)."""
    rt.sockets = [SocketInfo(proto, host, port) for proto, host, port in specs]
    return rt.sockets


def sent(msg) -> str:
    """The request/reply text with every lump applied (no Via of ours)."""
    return build_message(msg).decode("latin-1")


def forwarded(msg) -> str:
    """The request as forwarded, with our Via on top."""
    return build_request(msg, f"SIP/2.0/UDP {PROXY_IP};branch=z9hG4bKproxy").decode("latin-1")


def header_lines(text: str, name: str) -> list[str]:
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    lname = name.lower() + ":"
    return [line for line in head if line.lower().startswith(lname)]
