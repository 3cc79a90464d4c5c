"""SIP messages with SDP for the rtpengine tests, and a UAC/UAS pair of sockets."""

from __future__ import annotations

import re
import socket
import uuid

SDP = ("v=0\r\n"
       "o=- 1234 1 IN IP4 {ip}\r\n"
       "s=-\r\n"
       "c=IN IP4 {ip}\r\n"
       "t=0 0\r\n"
       "m=audio {port} RTP/AVP 0 8 101\r\n"
       "a=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\n"
       "a=sendrecv\r\n")


def sdp(ip="127.0.0.1", port=40000) -> str:
    return SDP.format(ip=ip, port=port)


def invite(proxy_port: int, uac_port: int, callid: str, body: str | None = None,
           extra: str = "", ftag: str = "ftag1", ctype: str = "application/sdp",
           branch: str | None = None) -> bytes:
    body = sdp(port=41000) if body is None else body
    branch = branch or "z9hG4bK" + uuid.uuid4().hex[:12]
    msg = (f"INVITE sip:bob@127.0.0.1:{proxy_port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch={branch};rport\r\n"
           "Max-Forwards: 70\r\n"
           f"From: <sip:alice@127.0.0.1>;tag={ftag}\r\n"
           "To: <sip:bob@127.0.0.1>\r\n"
           f"Call-ID: {callid}\r\n"
           "CSeq: 1 INVITE\r\n"
           f"Contact: <sip:alice@127.0.0.1:{uac_port}>\r\n"
           f"{extra}")
    if body:
        msg += f"Content-Type: {ctype}\r\n"
    msg += f"Content-Length: {len(body.encode('latin-1'))}\r\n\r\n{body}"
    return msg.encode("latin-1")


def reply_to(request: bytes, code: int, reason: str, to_tag: str = "ttag1",
             body: str | None = None) -> bytes:
    """A UAS reply copying Via/From/To/Call-ID/CSeq of the request it got."""
    text = request.decode("latin-1")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [h for h in head[1:] if re.match(r"(?i)(via|from|call-id|cseq|record-route)\s*:", h)]
    to = next(h for h in head[1:] if re.match(r"(?i)to\s*:", h))
    if ";tag=" not in to:
        to += f";tag={to_tag}"
    lines = [f"SIP/2.0 {code} {reason}", *keep, to, "Contact: <sip:bob@127.0.0.1>"]
    body = body or ""
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("latin-1")


def in_dialog(method: str, proxy_port: int, uac_port: int, callid: str, cseq: int,
              ftag="ftag1", ttag="ttag1") -> bytes:
    return (f"{method} sip:bob@127.0.0.1:{proxy_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:alice@127.0.0.1>;tag={ftag}\r\n"
            f"To: <sip:bob@127.0.0.1>;tag={ttag}\r\n"
            f"Call-ID: {callid}\r\n"
            f"CSeq: {cseq} {method}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def body_of(msg: bytes) -> str:
    return msg.decode("latin-1").split("\r\n\r\n", 1)[1]


def header(msg: bytes, name: str) -> str | None:
    for line in msg.decode("latin-1").split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            return v.strip()
    return None


def status(msg: bytes | None) -> int | None:
    if not msg or not msg.startswith(b"SIP/2.0 "):
        return None
    return int(msg[8:11])


def media(body: str) -> tuple[str, int]:
    """(c= address, first m= port) of an SDP."""
    c = re.search(r"^c=IN IP[46] (\S+)", body, re.M)
    m = re.search(r"^m=\w+ (\d+)", body, re.M)
    return (c.group(1) if c else ""), (int(m.group(1)) if m else 0)


class Sock:
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]

    def send(self, data: bytes, port: int):
        self.s.sendto(data, ("127.0.0.1", port))

    def recv(self, timeout: float = 3.0, skip_provisional: bool = True) -> bytes | None:
        self.s.settimeout(timeout)
        while True:
            try:
                data, _ = self.s.recvfrom(65536)
            except socket.timeout:
                return None
            if skip_provisional and data.startswith(b"SIP/2.0 1"):
                continue
            return data

    def recv_request(self, method: str, callid: str, timeout: float = 3.0) -> bytes | None:
        """The next `method` request of that call; anything else (a late ACK, a
        retransmission from an earlier test) is skipped."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if m is None:
                return None
            if m.startswith(method.encode() + b" ") and f"Call-ID: {callid}\r\n".encode() in m:
                return m
        return None

    def close(self):
        self.s.close()
