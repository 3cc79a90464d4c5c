"""A small scripted SIP UA over one UDP socket, for tests that need dialogs through a
NAT: it answers and sends in-dialog requests the RFC 3261 way (route set from
Record-Route, requests to the remote target), so the proxy's NAT handling is what is
tested. It is not a phone: one dialog at a time, no SDP, no retransmissions."""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import dataclass, field

_n = itertools.count(1)


@dataclass
class Msg:
    first: str
    headers: list[tuple[str, str]]
    source: tuple[str, int]
    raw: str = ""

    @property
    def is_reply(self) -> bool:
        return self.first.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.first.split()[1]) if self.is_reply else 0

    @property
    def method(self) -> str:
        return self.first.split()[0] if not self.is_reply else self.get("CSeq").split()[1]

    @property
    def ruri(self) -> str:
        return self.first.split()[1]

    def all(self, name: str) -> list[str]:
        name = name.lower()
        out = []
        for k, v in self.headers:
            if k.lower() == name:
                out.extend(p.strip() for p in _split_commas(v))
        return out

    def get(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def _split_commas(value: str) -> list[str]:
    out, depth, cur, quoted = [], 0, "", False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def parse(data: bytes, source) -> Msg:
    text = data.decode("latin-1")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return Msg(lines[0], headers, source, text)


def uri_of(nameaddr: str) -> str:
    """The URI of a name-addr (<...>) or of a bare addr-spec."""
    if "<" in nameaddr:
        return nameaddr[nameaddr.index("<") + 1:nameaddr.index(">")]
    return nameaddr.split(";", 1)[0]


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str]
    cseq: int = 1
    caller: bool = True
    extra: dict = field(default_factory=dict)


class SipUA:
    def __init__(self, sock: socket.socket, user: str, proxy: tuple[str, int]):
        self.sock = sock
        self.user = user
        self.proxy = proxy
        self.ip, self.port = sock.getsockname()
        self.contact = f"sip:{user}@{self.ip}:{self.port}"
        self.aor = f"sip:{user}@{proxy[0]}"

    # --- the wire ---------------------------------------------------------------------

    def send(self, text: str, to: tuple[str, int] | None = None):
        self.sock.sendto(text.encode("latin-1"), to or self.proxy)

    def recv(self, timeout: float = 2.0, skip_provisional: bool = True) -> Msg | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                return None
            msg = parse(data, src)
            if skip_provisional and msg.is_reply and msg.status < 200:
                continue
            return msg

    def _via(self) -> str:
        return f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch=z9hG4bK-ua{next(_n)}-{time.time_ns()};rport"

    # --- requests -----------------------------------------------------------------------

    def register(self, expires: int = 300, timeout: float = 3.0) -> Msg | None:
        n = next(_n)
        self.send(
            f"REGISTER sip:{self.proxy[0]}:{self.proxy[1]} SIP/2.0\r\n{self._via()}\r\n"
            f"Max-Forwards: 70\r\nFrom: <{self.aor}>;tag=r{n}\r\nTo: <{self.aor}>\r\n"
            f"Call-ID: reg-{self.user}-{self.ip}\r\nCSeq: {n} REGISTER\r\n"
            f"Contact: <{self.contact}>;expires={expires}\r\nContent-Length: 0\r\n\r\n")
        return self.recv(timeout)

    def invite(self, target_aor: str) -> str:
        """Send an INVITE through the proxy; returns its Call-ID."""
        n = next(_n)
        call_id = f"call-{n}-{time.time_ns()}@{self.ip}"
        self._invite = (call_id, f"t{n}", target_aor)
        self.send(
            f"INVITE {target_aor} SIP/2.0\r\n{self._via()}\r\nMax-Forwards: 70\r\n"
            f"From: <{self.aor}>;tag=t{n}\r\nTo: <{target_aor}>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 INVITE\r\nContact: <{self.contact}>\r\nContent-Length: 0\r\n\r\n")
        return call_id

    def answer(self, invite: Msg, code: int = 200) -> Dialog:
        """Reply to a received INVITE and return the dialog (as the callee)."""
        tag = f"a{next(_n)}"
        lines = [f"SIP/2.0 {code} {'OK' if code == 200 else 'Busy Here'}"]
        for k, v in invite.headers:
            if k.lower() in ("via", "record-route", "from", "call-id", "cseq"):
                lines.append(f"{k}: {v}")
            elif k.lower() == "to":
                lines.append(f"{k}: {v};tag={tag}")
        lines += [f"Contact: <{self.contact}>", "Content-Length: 0", "", ""]
        self.send("\r\n".join(lines), invite.source)
        return Dialog(call_id=invite.get("Call-ID"), local_tag=tag,
                      remote_tag=invite.get("From").split("tag=")[1].split(";")[0],
                      local_uri=uri_of(invite.get("To")), remote_uri=uri_of(invite.get("From")),
                      remote_target=uri_of(invite.all("Contact")[0]),
                      route_set=invite.all("Record-Route"), caller=False)

    def confirm(self, ok: Msg) -> Dialog:
        """The caller's side of a 2xx: the dialog, and the ACK sent along its route set."""
        call_id, tag, target = self._invite
        dlg = Dialog(call_id=call_id, local_tag=tag, remote_tag=ok.get("To").split("tag=")[1].split(";")[0],
                     local_uri=self.aor, remote_uri=target, remote_target=uri_of(ok.all("Contact")[0]),
                     route_set=list(reversed(ok.all("Record-Route"))))
        self._in_dialog(dlg, "ACK", cseq=1)
        return dlg

    def _in_dialog(self, dlg: Dialog, method: str, cseq: int | None = None):
        if cseq is None:
            dlg.cseq += 1
            cseq = dlg.cseq
        routes = "".join(f"Route: {r}\r\n" for r in dlg.route_set)
        self.send(
            f"{method} {dlg.remote_target} SIP/2.0\r\n{self._via()}\r\nMax-Forwards: 70\r\n{routes}"
            f"From: <{dlg.local_uri}>;tag={dlg.local_tag}\r\nTo: <{dlg.remote_uri}>;tag={dlg.remote_tag}\r\n"
            f"Call-ID: {dlg.call_id}\r\nCSeq: {cseq} {method}\r\nContact: <{self.contact}>\r\n"
            f"Content-Length: 0\r\n\r\n",
            self._next_hop(dlg))

    def _next_hop(self, dlg: Dialog) -> tuple[str, int]:
        # loose routing: the first Route's host (our proxy), else the remote target
        uri = uri_of(dlg.route_set[0]) if dlg.route_set else dlg.remote_target
        hostport = uri.split("@")[-1].split(";")[0].removeprefix("sip:")
        host, _, port = hostport.partition(":")
        return host, int(port or 5060)

    def bye(self, dlg: Dialog):
        self._in_dialog(dlg, "BYE")

    def reply_to(self, request: Msg, code: int = 200):
        lines = [f"SIP/2.0 {code} OK"]
        lines += [f"{k}: {v}" for k, v in request.headers
                  if k.lower() in ("via", "from", "to", "call-id", "cseq")]
        lines += ["Content-Length: 0", "", ""]
        self.send("\r\n".join(lines), request.source)
