"""A small digest-authenticating UAC for the auth tests: sends a request over UDP,
reads the challenge and answers it (MD5 or SHA-256, with or without qop), so the
tests can drive kamapy and Kamailio alike and compare their verdicts."""

from __future__ import annotations

import hashlib
import re
import socket
import uuid

_CHALLENGE = re.compile(r"^(WWW|Proxy)-Authenticate:\s*Digest\s+(.*)$", re.I | re.M)
_PARAM = re.compile(r'(\w+)=("([^"]*)"|[^,\s]+)')


def parse_challenge(reply: str) -> dict | None:
    m = _CHALLENGE.search(reply)
    if not m:
        return None
    out = {"header": m.group(1).lower()}
    for pm in _PARAM.finditer(m.group(2)):
        out[pm.group(1).lower()] = pm.group(3) if pm.group(3) is not None else pm.group(2)
    return out


def status_of(reply: str) -> int:
    return int(reply.split(" ", 2)[1]) if reply.startswith("SIP/2.0 ") else 0


def header(reply: str, name: str) -> str | None:
    m = re.search(rf"^{name}:\s*(.*?)\r$", reply, re.I | re.M)
    return m.group(1) if m else None


def digest_response(alg: str, user: str, realm: str, password: str, method: str, uri: str,
                    nonce: str, qop: str | None = None, nc: str = "00000001",
                    cnonce: str = "0a4f113b", body: str = "", ha1: str | None = None) -> str:
    h = hashlib.sha256 if alg.upper() == "SHA-256" else hashlib.md5

    def H(s):
        return h(s.encode()).hexdigest()
    a1 = ha1 or H(f"{user}:{realm}:{password}")
    a2 = f"{method}:{uri}" + (f":{H(body)}" if qop == "auth-int" else "")
    if qop:
        return H(f"{a1}:{nonce}:{nc}:{cnonce}:{qop}:{H(a2)}")
    return H(f"{a1}:{nonce}:{H(a2)}")


class Uac:
    def __init__(self, server: tuple[str, int], user: str = "alice", domain: str = "127.0.0.1"):
        self.server = server
        self.user = user
        self.domain = domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.port = self.sock.getsockname()[1]
        self.cseq = 0
        self.callid = uuid.uuid4().hex
        self.ftag = uuid.uuid4().hex[:10]

    def close(self):
        self.sock.close()

    def request(self, method: str = "REGISTER", auth: str | None = None, ruri: str | None = None,
                to_user: str | None = None, extra: str = "", body: str = "", to_tag: str = "",
                new_call: bool = False) -> str:
        """Send one request (with an optional Authorization / Proxy-Authorization line,
        given whole) and return the final reply's text ('' on timeout)."""
        if new_call:
            self.callid = uuid.uuid4().hex
        self.cseq += 1
        host, port = self.server
        ruri = ruri or (f"sip:{host}:{port}" if method == "REGISTER" else f"sip:bob@{host}:{port}")
        to_user = to_user or (self.user if method == "REGISTER" else "bob")
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag={self.ftag}",
            f"To: <sip:{to_user}@{self.domain}>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {self.callid}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>",
        ]
        if method == "REGISTER":
            lines.append("Expires: 60")
        if auth:
            lines.append(auth)
        if extra:
            lines.extend(extra.rstrip("\r\n").split("\r\n"))
        lines.append(f"Content-Length: {len(body.encode('latin-1'))}")
        data = ("\r\n".join(lines) + "\r\n\r\n" + body).encode("latin-1")
        self.sock.sendto(data, self.server)
        # nothing answers an ACK: do not wait long to be sure of it
        self.sock.settimeout(0.3 if method == "ACK" else 2.0)
        try:
            while True:
                reply = self.sock.recv(65535).decode("latin-1")
                if status_of(reply) >= 200:
                    return reply
        except socket.timeout:
            return ""

    def authorization(self, challenge: dict, method: str, uri: str, password: str, *,
                      user: str | None = None, qop: str | None = "auto", nc: str = "00000001",
                      alg: str | None = None, body: str = "", response: str | None = None) -> str:
        user = user or self.user
        if qop == "auto":
            qop = "auth" if challenge.get("qop") else None
        alg = alg or challenge.get("algorithm") or "MD5"
        resp = response or digest_response(alg, user, challenge["realm"], password, method, uri,
                                           challenge["nonce"], qop, nc, body=body)
        name = "Proxy-Authorization" if challenge["header"] == "proxy" else "Authorization"
        parts = [f'username="{user}"', f'realm="{challenge["realm"]}"', f'nonce="{challenge["nonce"]}"',
                 f'uri="{uri}"', f'response="{resp}"', f"algorithm={alg}"]
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", 'cnonce="0a4f113b"']
        return f"{name}: Digest " + ", ".join(parts)

    def login(self, password: str, method: str = "REGISTER", **kw) -> tuple[str, str, dict | None]:
        """(first reply, reply to the answered challenge, the challenge)."""
        first = self.request(method, **{k: v for k, v in kw.items() if k in ("ruri", "extra", "body")})
        ch = parse_challenge(first)
        if ch is None:
            return first, "", None
        host, port = self.server
        uri = kw.get("ruri") or (f"sip:{host}:{port}" if method == "REGISTER" else f"sip:bob@{host}:{port}")
        auth = self.authorization(ch, method, uri, password, body=kw.get("body", ""),
                                  **{k: v for k, v in kw.items() if k in ("qop", "alg", "user")})
        second = self.request(method, auth=auth, **{k: v for k, v in kw.items() if k in ("ruri", "extra", "body")})
        return first, second, ch
