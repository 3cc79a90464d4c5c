"""A user agent on one WebSocket (RFC 7118 + RFC 5626 flow) for the outbound wire tests,
as a browser phone is: its Via and Contact name a made-up `.invalid` host, so only the
flow (the edge's token) can reach it. wsproto does the handshake and the frames."""

from __future__ import annotations

import re
import socket
import time
import uuid

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Request, TextMessage

CRLF = "\r\n"


class WsUA:
    def __init__(self, edge: tuple[str, int], user: str = "alice", reg_id: int = 1,
                 domain: str = "example.com"):
        self.user, self.domain, self.reg_id = user, domain, reg_id
        self.instance = f"urn:uuid:{uuid.uuid4()}"
        self.host = f"{uuid.uuid4().hex[:10]}.invalid"
        self.sock = socket.create_connection(edge, timeout=5)
        self.port = self.sock.getsockname()[1]
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.inbox: list[str] = []
        self._part = ""
        self.cseq = 0
        self.callid = f"ws-reg-{uuid.uuid4().hex}"
        self.sock.sendall(self.ws.send(Request(host=f"{edge[0]}:{edge[1]}", target="/",
                                               subprotocols=["sip"])))
        self.accepted = self._pump(3.0, until=lambda evs: any(isinstance(e, AcceptConnection) for e in evs))

    def _pump(self, timeout: float, until) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError):
                return False
            if not data:
                return False
            self.ws.receive_data(data)
            events = list(self.ws.events())
            for ev in events:
                if isinstance(ev, (TextMessage, BytesMessage)):
                    self._part += ev.data if isinstance(ev, TextMessage) else bytes(ev.data).decode("latin-1")
                    if ev.message_finished:
                        self.inbox.append(self._part)
                        self._part = ""
            if until(events):
                return True
        return False

    def send(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def read(self, timeout: float = 3.0) -> str | None:
        """The next SIP message (one WebSocket message each), or None."""
        if not self.inbox:
            self._pump(timeout, until=lambda _evs: bool(self.inbox))
        return self.inbox.pop(0) if self.inbox else None

    def read_final(self, timeout: float = 3.0) -> str | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.read(left)
            if msg is None:
                return None
            if msg.startswith("SIP/2.0 ") and msg[8:9] != "1":
                return msg
        return None

    def read_request(self, method: str, timeout: float = 3.0) -> str | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.read(left)
            if msg is None:
                return None
            if msg.startswith(method + " "):
                return msg
        return None

    def contact(self) -> str:
        return f"<sip:{self.user}@{self.host};transport=ws;ob>"

    def register(self, expires: int = 300) -> str | None:
        self.cseq += 1
        self.send(f"REGISTER sip:{self.domain} SIP/2.0{CRLF}"
                  f"Via: SIP/2.0/WS {self.host};branch=z9hG4bK-{uuid.uuid4().hex[:12]}{CRLF}"
                  f"Max-Forwards: 70{CRLF}"
                  f"From: <sip:{self.user}@{self.domain}>;tag=w{self.cseq}{CRLF}"
                  f"To: <sip:{self.user}@{self.domain}>{CRLF}"
                  f"Call-ID: {self.callid}{CRLF}"
                  f"CSeq: {self.cseq} REGISTER{CRLF}"
                  f"Supported: outbound, path{CRLF}"
                  f'Contact: {self.contact()};reg-id={self.reg_id};+sip.instance="<{self.instance}>"'
                  f";expires={expires}{CRLF}"
                  f"Content-Length: 0{CRLF}{CRLF}")
        return self.read_final()

    def answer(self, request: str, code: int, reason: str) -> None:
        """A reply to `request` (its Via, From, To, Call-ID, CSeq, Record-Route copied)."""
        head = request.split("\r\n\r\n", 1)[0].split(CRLF)[1:]
        keep = [h for h in head if re.match(r"(?i)(via|v|from|f|call-id|i|cseq|record-route)\s*:", h)]
        to = next(h for h in head if re.match(r"(?i)(to|t)\s*:", h))
        if ";tag=" not in to:
            to += ";tag=ua-" + uuid.uuid4().hex[:8]
        self.send(CRLF.join([f"SIP/2.0 {code} {reason}", *keep, to, f"Contact: {self.contact()}",
                             "Content-Length: 0"]) + CRLF + CRLF)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
