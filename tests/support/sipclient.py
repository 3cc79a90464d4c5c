"""A minimal UDP SIP client for wire tests: send a request, read replies, with timeouts."""

from __future__ import annotations

import itertools
import socket
import time

_counter = itertools.count(1)


class SipClient:
    def __init__(self, server=("127.0.0.1", 5060), host="127.0.0.1", sock: socket.socket | None = None):
        """`sock`: an unbound UDP socket to use (e.g. one made inside a network namespace)."""
        self.server = server
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def options(self, ruri=None, extra="", callid=None) -> bytes:
        n = next(_counter)
        ruri = ruri or f"sip:{self.server[0]}:{self.server[1]}"
        callid = callid or f"opt-{n}-{time.time_ns()}@{self.host}"
        return (
            f"OPTIONS {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-{n}-{time.time_ns()};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:tester@{self.host}>;tag=t{n}\r\n"
            f"To: <{ruri}>\r\n"
            f"Call-ID: {callid}\r\n"
            f"CSeq: {n} OPTIONS\r\n"
            f"{extra}"
            f"Content-Length: 0\r\n\r\n"
        ).encode()

    def send(self, data: bytes):
        self.sock.sendto(data, self.server)

    def recv(self, timeout: float = 2.0) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
            return data
        except (socket.timeout, ConnectionRefusedError):
            return None

    def request(self, data: bytes, timeout: float = 2.0) -> bytes | None:
        """Send and return the first final reply (skipping 1xx), or None."""
        self.send(data)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            reply = self.recv(left)
            if reply is None:
                return None
            if not reply.startswith(b"SIP/2.0 1"):
                return reply

    def ping(self, timeout: float = 1.0) -> bool:
        reply = self.request(self.options(), timeout)
        return reply is not None


def status_of(reply: bytes | None) -> int | None:
    if not reply or not reply.startswith(b"SIP/2.0 "):
        return None
    return int(reply[8:11])
