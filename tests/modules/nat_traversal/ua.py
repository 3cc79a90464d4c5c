"""A bare UDP user agent for the nat_traversal tests: sends requests with a Via that
claims a private address (so client_nat_test sees a NAT), collects what arrives."""

from __future__ import annotations

import re
import socket
import time
import uuid


class Ua:
    def __init__(self, server: tuple[str, int], host: str = "127.0.0.1", sock=None):
        self.server = server
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if sock is None:
            self.sock.bind((host, 0))
        self.addr = self.sock.getsockname()
        self.callid = uuid.uuid4().hex
        self.cseq = 0
        self.inbox: list[bytes] = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method: str, ruri: str, extra: str = "", contact: str | None = None,
                callid: str | None = None, totag: str = "") -> bytes:
        self.cseq += 1
        contact = contact or "<sip:alice@10.0.0.5:5060>"
        to = f"<{ruri}>" + (f";tag={totag}" if totag else "")
        msg = (f"{method} {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:alice@example.com>;tag=ft{self.callid[:6]}\r\n"
               f"To: {to}\r\n"
               f"Call-ID: {callid or self.callid}\r\n"
               f"CSeq: {self.cseq} {method}\r\n"
               f"Contact: {contact}\r\n"
               f"{extra}"
               "Content-Length: 0\r\n\r\n")
        data = msg.encode()
        self.sock.sendto(data, self.server)
        return data

    def recv(self, timeout: float) -> bytes | None:
        self.sock.settimeout(max(0.01, timeout))
        try:
            data, _ = self.sock.recvfrom(65535)
        except (socket.timeout, OSError):
            return None
        return data

    def final_reply(self, timeout: float = 3.0) -> bytes | None:
        """The next final reply; requests arriving meanwhile go to the inbox."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.recv(deadline - time.monotonic())
            if data is None:
                return None
            if data.startswith(b"SIP/2.0 "):
                if int(data[8:11]) >= 200:
                    return data
            else:
                self.inbox.append(data)
        return None

    def wait_request(self, method: str, timeout: float, code: int | None = 200) -> tuple[bytes, float] | None:
        """The next request of that method (answered `code` like a UA unless None), with
        its arrival time."""
        deadline = time.monotonic() + timeout
        while True:
            for i, d in enumerate(self.inbox):
                if d.startswith(method.encode() + b" "):
                    del self.inbox[i]
                    return d, time.monotonic()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.recv(left)
            if data is None:
                return None
            if not data.startswith(b"SIP/2.0 "):
                if code is not None:
                    self.answer(data, code)
                self.inbox.append(data)

    def answer(self, req: bytes, code: int = 200):
        text = req.decode("latin-1")
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if re.match(r"(?i)(via|from|to|call-id|cseq):", h)]
        reply = f"SIP/2.0 {code} OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"
        # straight back to the sender (the Via's sent-by is the proxy's socket)
        via = next(h for h in keep if h.lower().startswith("via:"))
        m = re.search(r"SIP/2.0/UDP ([^;:\s]+):(\d+)", via)
        self.sock.sendto(reply.encode(), (m.group(1), int(m.group(2))))


def header(data: bytes, name: str) -> str | None:
    for line in data.decode("latin-1").split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None
