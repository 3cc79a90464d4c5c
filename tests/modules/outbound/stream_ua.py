"""A user agent on one TCP connection (RFC 5626 flow) for the outbound wire tests:
REGISTER with ;ob / reg-id / +sip.instance through an edge proxy, then read the
requests that come back down the same connection and answer them."""

from __future__ import annotations

import re
import socket
import time
import uuid

CRLF = "\r\n"


class StreamUA:
    def __init__(self, edge: tuple[str, int], user: str = "alice", instance: str | None = None,
                 reg_id: int = 1, domain: str = "example.com"):
        self.edge, self.user, self.domain, self.reg_id = edge, user, domain, reg_id
        self.instance = instance or f"urn:uuid:{uuid.uuid4()}"
        self.sock = socket.create_connection(edge, timeout=5)
        self.host, self.port = self.sock.getsockname()[:2]
        self.buf = b""
        self.cseq = 0
        self.callid = f"reg-{uuid.uuid4().hex}@{self.host}"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def register(self, expires: int = 300, extra: str = "") -> str | None:
        self.cseq += 1
        contact = (f"<sip:{self.user}@{self.host}:{self.port};transport=tcp;ob>;reg-id={self.reg_id}"
                   f';+sip.instance="<{self.instance}>";expires={expires}')
        req = (f"REGISTER sip:{self.domain} SIP/2.0{CRLF}"
               f"Via: SIP/2.0/TCP {self.host}:{self.port};branch=z9hG4bK-{uuid.uuid4().hex[:12]};rport{CRLF}"
               f"Max-Forwards: 70{CRLF}"
               f"From: <sip:{self.user}@{self.domain}>;tag=r{self.cseq}{CRLF}"
               f"To: <sip:{self.user}@{self.domain}>{CRLF}"
               f"Call-ID: {self.callid}{CRLF}"
               f"CSeq: {self.cseq} REGISTER{CRLF}"
               f"Supported: outbound, path{CRLF}"
               f"Contact: {contact}{CRLF}"
               f"{extra}"
               f"Content-Length: 0{CRLF}{CRLF}")
        self.sock.sendall(req.encode())
        return self.read_final()

    def read(self, timeout: float = 3.0) -> str | None:
        """The next whole SIP message from the connection, or None."""
        deadline = time.monotonic() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end].decode("latin-1")
                m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                total = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) >= total:
                    msg, self.buf = self.buf[:total], self.buf[total:]
                    return msg.decode("latin-1")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65535)
            except socket.timeout:
                return None
            except OSError:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def read_final(self, timeout: float = 3.0) -> str | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.read(left)
            if msg is None:
                return None
            if msg.startswith("SIP/2.0 ") and not msg[8:9] == "1":
                return msg
        return None

    def read_request(self, method: str, timeout: float = 3.0) -> str | None:
        """The next `method` request (ACKs and others on the way are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.read(left)
            if msg is None:
                return None
            if msg.startswith(method + " "):
                return msg
        return None

    def answer(self, request: str, code: int, reason: str) -> None:
        """A reply to `request` (its Via, From, To, Call-ID, CSeq, Record-Route copied)."""
        head = request.split("\r\n\r\n", 1)[0].split(CRLF)[1:]
        keep = [h for h in head if re.match(r"(?i)(via|v|from|f|call-id|i|cseq|record-route)\s*:", h)]
        to = next(h for h in head if re.match(r"(?i)(to|t)\s*:", h))
        if ";tag=" not in to:
            to += ";tag=ua-" + uuid.uuid4().hex[:8]
        lines = [f"SIP/2.0 {code} {reason}", *keep, to,
                 f"Contact: <sip:{self.user}@{self.host}:{self.port};transport=tcp;ob>",
                 "Content-Length: 0"]
        self.sock.sendall((CRLF.join(lines) + CRLF + CRLF).encode())


def header(msg: str, name: str) -> list[str]:
    """Every value of header `name` in `msg`."""
    head = msg.split("\r\n\r\n", 1)[0]
    return [m.group(1).strip() for m in re.finditer(rf"(?im)^{re.escape(name)}\s*:(.*)$", head)]
