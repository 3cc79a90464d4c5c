"""Helpers for the transport tests: SIP over a byte stream (TCP or TLS socket)."""

from __future__ import annotations

import re
import socket
import ssl
import time

_CL = re.compile(rb"(?im)^(?:content-length|l):\s*(\d+)")


class StreamReader:
    """Cuts SIP messages off a stream by Content-Length (what the test peers need)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def messages(self, count: int, timeout: float = 3.0) -> list[bytes]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            m = self.buf.find(b"\r\n\r\n")
            if m >= 0:
                cl = _CL.search(self.buf[:m + 4])
                total = m + 4 + (int(cl.group(1)) if cl else 0)
                if len(self.buf) >= total:
                    out.append(self.buf[:total])
                    self.buf = self.buf[total:]
                    continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(max(0.05, left))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                break
            if not data:
                break
            self.buf += data
        return out


def read_messages(sock, count: int, timeout: float = 3.0) -> list[bytes]:
    return StreamReader(sock).messages(count, timeout)


def headers(msg: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in re.findall(r"(?m)^([A-Za-z-]+):[ \t]*(.*?)\r$", msg.decode("latin-1")):
        out.setdefault(k.lower(), []).append(v)
    return out


def reply_to(req: bytes, code: int, reason: str, to_tag: str = "", extra: str = "") -> bytes:
    """A reply to req: its Vias, From, To (+tag), Call-ID, CSeq, Record-Route."""
    h = headers(req)
    to = h["to"][0] + (f";tag={to_tag}" if to_tag and "tag=" not in h["to"][0] else "")
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in h["via"]]
    lines += [f"Record-Route: {v}" for v in h.get("record-route", [])]
    lines += [f"From: {h['from'][0]}", f"To: {to}", f"Call-ID: {h['call-id'][0]}",
              f"CSeq: {h['cseq'][0]}"]
    return ("\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n").encode()


def wait_closed(sock, timeout: float) -> bool:
    """True when the peer closed (or reset) the connection within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return True
    except socket.timeout:
        return False
