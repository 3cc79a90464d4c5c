"""Raw-UDP user agents for the dialog wire tests: a callee that answers INVITEs (180,
then 200 or a configured failure) and BYEs, and a caller that sets up a call through
the proxy, ACKs, and hangs up with the Route set the 200's Record-Route gave."""

from __future__ import annotations

import re
import socket
import threading
import time


def hdr(msg: bytes, name: str) -> str | None:
    for line in msg.decode("latin-1").split("\r\n")[1:]:
        if not line:
            break
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            return v.strip()
    return None


def hdrs(msg: bytes, name: str) -> list[str]:
    out = []
    for line in msg.decode("latin-1").split("\r\n")[1:]:
        if not line:
            break
        n, _, v = line.partition(":")
        if n.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def status(msg: bytes | None) -> int | None:
    if not msg or not msg.startswith(b"SIP/2.0 "):
        return None
    return int(msg[8:11])


def reply_to(req: bytes, code: int, reason: str, to_tag: str | None = None, extra: str = "") -> bytes:
    text = req.decode("latin-1")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    lines = [f"SIP/2.0 {code} {reason}"]
    for line in head[1:]:
        n = line.partition(":")[0].strip().lower()
        if n in ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route"):
            lines.append(line)
        elif n in ("to", "t"):
            lines.append(line + (f";tag={to_tag}" if to_tag and ";tag=" not in line else ""))
    return ("\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n").encode()


class Callee(threading.Thread):
    """Answers every INVITE: 180 then `code` (200 by default); 200 to BYE and others."""

    def __init__(self, code: int = 200):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.code = code
        self.received: list[bytes] = []
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data)
            if data.startswith(b"SIP/2.0"):
                continue
            method = data.split(b" ", 1)[0].decode()
            if method == "ACK":
                continue
            tag = "callee" + (hdr(data, "Call-ID") or "")[:8]
            if method == "INVITE":
                self.sock.sendto(reply_to(data, 180, "Ringing", tag), addr)
                if self.code == 200:
                    contact = f"Contact: <sip:callee@127.0.0.1:{self.port}>\r\n"
                    self.sock.sendto(reply_to(data, 200, "OK", tag, contact), addr)
                else:
                    self.sock.sendto(reply_to(data, self.code, "Busy Here", tag), addr)
            else:
                self.sock.sendto(reply_to(data, 200, "OK", tag), addr)

    def requests(self, method: str) -> list[bytes]:
        return [m for m in self.received if m.startswith(method.encode() + b" ")]

    def stop(self):
        self.stopping = True
        self.join(2)
        self.sock.close()


class Caller:
    def __init__(self, proxy_port: int, callee_port: int, user: str = "alice"):
        self.proxy = ("127.0.0.1", proxy_port)
        self.callee_port = callee_port
        self.user = user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.callid = f"{user}-{time.time_ns()}@test"
        self.ftag = f"ft{time.time_ns() % 10**9}"
        self.to = f"<sip:bob@127.0.0.1:{callee_port}>"
        self.routes: list[str] = []
        self.remote = f"sip:bob@127.0.0.1:{callee_port}"
        self.cseq = 1
        self.invite_uri = f"sip:bob@127.0.0.1:{callee_port}"  # where the INVITE is addressed
        self.extra = ""                                      # more header lines for it

    def _via(self, branch: str | None = None):
        self.branch = branch or f"z9hG4bK{time.time_ns()}"
        return f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={self.branch};rport\r\n"

    def _send(self, data: bytes):
        self.sock.sendto(data, self.proxy)

    def recv(self, timeout=3.0) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(65535)[0]
        except socket.timeout:
            return None

    def invite(self, timeout=5.0) -> int | None:
        """INVITE through the proxy; returns the final status (ACKs it)."""
        self._send((
            f"INVITE {self.invite_uri} SIP/2.0\r\n{self._via()}{self.extra}"
            f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.com>;tag={self.ftag}\r\n"
            f"To: {self.to}\r\nCall-ID: {self.callid}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\nContent-Length: 0\r\n\r\n").encode())
        invite_branch = self.branch
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.recv(deadline - time.monotonic())
            code = status(r)
            if code is None or code < 200:
                continue
            if code < 300:
                self.to = hdr(r, "To")
                self.routes = list(hdrs(r, "Record-Route"))
                self.routes.reverse()  # RFC 3261 12.1.2: the UAC reverses the Record-Route
                m = re.search(r"<([^>]+)>", hdr(r, "Contact") or "")
                if m:
                    self.remote = m.group(1)
                self._in_dialog("ACK", 1)
            else:  # the hop-by-hop ACK of a negative reply: the INVITE's branch
                self._send((
                    f"ACK {self.invite_uri} SIP/2.0\r\n{self._via(invite_branch)}"
                    f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.com>;tag={self.ftag}\r\n"
                    f"To: {hdr(r, 'To')}\r\nCall-ID: {self.callid}\r\nCSeq: 1 ACK\r\n"
                    f"Content-Length: 0\r\n\r\n").encode())
            return code
        return None

    def _in_dialog(self, method: str, cseq: int):
        route = "".join(f"Record-Route: {r}\r\n".replace("Record-Route", "Route") for r in self.routes)
        self._send((
            f"{method} {self.remote} SIP/2.0\r\n{self._via()}{route}"
            f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.com>;tag={self.ftag}\r\n"
            f"To: {self.to}\r\nCall-ID: {self.callid}\r\nCSeq: {cseq} {method}\r\n"
            f"Content-Length: 0\r\n\r\n").encode())

    def request(self, method: str, timeout=3.0) -> int | None:
        self.cseq += 1
        self._in_dialog(method, self.cseq)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = status(self.recv(deadline - time.monotonic()))
            if code is not None and code >= 200:
                return code
        return None

    def bye(self) -> int | None:
        return self.request("BYE")

    def close(self):
        self.sock.close()
