"""A small synchronous SIP UA for the stock-config tests: one UDP socket per user, acts
as UAC (REGISTER and INVITE answering 401/407 digest challenges, ACK, BYE, CANCEL) and as
UAS (answers what the proxy relays to it). Every message seen or sent is kept in
`self.trace` as (direction, text) for the transcripts."""

from __future__ import annotations

import re
import socket
import time
import uuid

from tests.modules.auth.uac import digest_response, parse_challenge

SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def status_of(msg: str | None) -> int:
    return int(msg.split(" ", 2)[1]) if msg and msg.startswith("SIP/2.0 ") else 0


def hdr(msg: str, name: str) -> str | None:
    m = re.search(rf"^{name}:\s*(.*?)\r$", msg, re.I | re.M)
    return m.group(1) if m else None


def hdrs(msg: str, name: str) -> list[str]:
    return re.findall(rf"^{name}:\s*(.*?)\r$", msg, re.I | re.M)


def body_of(msg: str) -> str:
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


def method_of(msg: str) -> str:
    return msg.split(" ", 1)[0]


class UA:
    def __init__(self, proxy: tuple[str, int], user: str, password: str, host: str = "127.0.0.1",
                 domain: str = "127.0.0.1", contact_host: str | None = None):
        """`contact_host`: the address put in Contact and SDP (a private one plays a UA
        behind NAT: the packets still come from the loopback socket)."""
        self.proxy, self.user, self.password, self.domain = proxy, user, password, domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()
        self.contact = f"{contact_host}:5060" if contact_host else f"{self.host}:{self.port}"
        self.sdp_ip = contact_host or self.host
        self.cseq = 0
        self.trace: list[tuple[str, str]] = []

    def close(self):
        self.sock.close()

    # -- wire --
    def send(self, text: str, to=None):
        self.trace.append(("out", text))
        self.sock.sendto(text.encode("latin-1"), to or self.proxy)

    def recv(self, timeout: float = 3.0) -> str | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        text = data.decode("latin-1")
        self.trace.append(("in", text))
        return text

    def final(self, timeout: float = 5.0, want_provisional: bool = False) -> str | None:
        """The next final reply (provisionals skipped; the first one returned if asked)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(left)
            if msg is None:
                return None
            code = status_of(msg)
            if code >= 200 or (want_provisional and code > 100):
                return msg
        return None

    # -- UAC --
    def build(self, method: str, ruri: str, to: str, callid: str, ftag: str, cseq: int, branch: str,
              extra: list[str] = (), body: str = "", to_tag: str = "", routes: list[str] = ()) -> str:
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:{self.user}@{self.domain}>;tag={ftag}",
                 f"To: <{to}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {callid}",
                 f"CSeq: {cseq} {method.split()[0]}",
                 f"Contact: <sip:{self.user}@{self.contact}>",
                 "User-Agent: kamapy-stock-test"]
        lines += [f"Route: {r}" for r in routes]
        lines += list(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode('latin-1'))}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def auth_line(self, challenge_msg: str, method: str, uri: str) -> str:
        ch = parse_challenge(challenge_msg)
        qop = "auth" if ch.get("qop") else None
        resp = digest_response("MD5", self.user, ch["realm"], self.password, method, uri, ch["nonce"], qop)
        name = "Proxy-Authorization" if ch["header"] == "proxy" else "Authorization"
        parts = [f'username="{self.user}"', f'realm="{ch["realm"]}"', f'nonce="{ch["nonce"]}"',
                 f'uri="{uri}"', f'response="{resp}"', "algorithm=MD5"]
        if qop:
            parts += ["qop=auth", "nc=00000001", 'cnonce="0a4f113b"']
        return f"{name}: Digest " + ", ".join(parts)

    def register(self, expires: int = 60) -> list[int]:
        """REGISTER, answer the challenge; the status codes seen."""
        callid, ftag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
        ruri = f"sip:{self.domain}"
        codes, auth = [], []
        for _ in range(2):
            self.cseq += 1
            self.send(self.build("REGISTER", ruri, f"sip:{self.user}@{self.domain}", callid, ftag, self.cseq,
                                 "z9hG4bK" + uuid.uuid4().hex[:12], [f"Expires: {expires}", *auth]))
            reply = self.final()
            codes.append(status_of(reply))
            if status_of(reply) != 401:
                break
            auth = [self.auth_line(reply, "REGISTER", ruri)]
        return codes

    def ack_for(self, invite: str, reply: str) -> str:
        """The hop-by-hop ACK of a non-2xx final reply (same branch as the INVITE)."""
        first = invite.split("\r\n", 1)[0].split(" ")[1]
        to = hdr(reply, "To")
        lines = [f"ACK {first} SIP/2.0", f"Via: {hdrs(invite, 'Via')[0]}", "Max-Forwards: 70",
                 f"From: {hdr(invite, 'From')}", f"To: {to}", f"Call-ID: {hdr(invite, 'Call-ID')}",
                 f"CSeq: {hdr(invite, 'CSeq').split()[0]} ACK"]
        lines += [f"Route: {r}" for r in hdrs(invite, "Route")]
        return "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"

    def invite(self, callee: str, callid: str | None = None):
        """Start a call: INVITE, 407, ACK, INVITE with credentials. Returns a Call."""
        return Call(self, callee, callid or uuid.uuid4().hex)

    # -- UAS --
    def answer(self, code: int = 200, reason: str = "OK", ringing: bool = True, timeout: float = 5.0):
        """Wait for a request; answer an INVITE with 180 then `code` (None: only 180)."""
        req = self.recv(timeout)
        if req is None:
            return None, None
        if ringing:
            self.reply(req, 180, "Ringing")
            # two server workers may take the 180 and the 200 at once; a provisional
            # handled after the final is dropped (by Kamailio too): keep them apart
            time.sleep(0.05)
        if code:
            self.reply(req, code, reason, body=SDP.format(ip=self.host, rtp=self.port + 1000)
                       if code == 200 else "")
        return req, None

    def reply(self, req: str, code: int, reason: str, body: str = ""):
        to = hdr(req, "To")
        if ";tag=" not in to:
            to += ";tag=uas-" + self.user
        lines = [f"SIP/2.0 {code} {reason}", *[f"Via: {v}" for v in hdrs(req, "Via")],
                 *[f"Record-Route: {r}" for r in hdrs(req, "Record-Route")],
                 f"From: {hdr(req, 'From')}", f"To: {to}", f"Call-ID: {hdr(req, 'Call-ID')}",
                 f"CSeq: {hdr(req, 'CSeq')}"]
        if method_of(req) == "INVITE" and code < 300:
            lines.append(f"Contact: <sip:{self.user}@{self.host}:{self.port}>")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        self.send("\r\n".join(lines) + "\r\n\r\n" + body, self.proxy)


class Call:
    """The caller's side of one call through the proxy."""

    def __init__(self, ua: UA, callee: str, callid: str):
        self.ua, self.callee, self.callid = ua, callee, callid
        self.ruri = f"sip:{callee}@{ua.domain}"
        self.ftag = "ft-" + uuid.uuid4().hex[:8]
        self.cseq = 1
        self.codes: list[int] = []
        self.sdp = SDP.format(ip=ua.sdp_ip, rtp=ua.port + 1000)
        ua.send(self._invite([]))
        reply = ua.final()
        self.codes.append(status_of(reply))
        if status_of(reply) == 407:
            ua.send(ua.ack_for(self.last, reply))
            self.cseq += 1
            ua.send(self._invite([ua.auth_line(reply, "INVITE", self.ruri)]))

    def _invite(self, extra):
        self.branch = "z9hG4bK" + uuid.uuid4().hex[:12]
        self.last = self.ua.build("INVITE", self.ruri, self.ruri, self.callid, self.ftag, self.cseq,
                                  self.branch, extra, body=self.sdp)
        return self.last

    def outcome(self, timeout: float = 5.0, provisional: bool = False) -> str | None:
        reply = self.ua.final(timeout, want_provisional=provisional)
        self.codes.append(status_of(reply))
        self.reply = reply
        if reply is not None and 300 <= status_of(reply):
            self.ua.send(self.ua.ack_for(self.last, reply))
        return reply

    def _in_dialog(self, method: str) -> str:
        r = self.reply
        routes = list(reversed(hdrs(r, "Record-Route")))
        target = re.search(r"<([^>]*)>", hdr(r, "Contact")).group(1)
        return self.ua.build(method, target, self.ruri, self.callid, self.ftag,
                             self.cseq if method == "ACK" else self.cseq + 1,
                             "z9hG4bK" + uuid.uuid4().hex[:12], to_tag=hdr(r, "To").split(";tag=")[1],
                             routes=routes)

    def ack(self):
        self.ua.send(self._in_dialog("ACK"))

    def bye(self) -> str | None:
        self.ua.send(self._in_dialog("BYE"))
        self.cseq += 1
        return self.ua.final()

    def cancel(self):
        lines = [f"CANCEL {self.ruri} SIP/2.0", f"Via: {hdrs(self.last, 'Via')[0]}", "Max-Forwards: 70",
                 f"From: {hdr(self.last, 'From')}", f"To: {hdr(self.last, 'To')}", f"Call-ID: {self.callid}",
                 f"CSeq: {self.cseq} CANCEL", "Content-Length: 0"]
        self.ua.send("\r\n".join(lines) + "\r\n\r\n")
