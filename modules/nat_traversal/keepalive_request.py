"""The keepalive request sent to a NAT endpoint (Kamailio sends it statelessly, built by
hand, not through tm). kamapy/sip/local_request.py did not exist when this was written,
so the builder is the module's own.

    NOTIFY sip:1.2.3.4:5060 SIP/2.0
    Via: SIP/2.0/UDP <socket ip>:<port>;branch=z9hG4bK<n>
    From: sip:keepalive@<socket ip>;tag=<hex>
    To: sip:1.2.3.4:5060
    Call-ID: <prefix>-<hex counter>-<hex ticks>@<socket ip>
    CSeq: 1 NOTIFY
    Event: keep-alive                (NOTIFY only)
    <keepalive_extra_headers>
    Content-Length: 0
"""

from __future__ import annotations

import random
import time


class KeepaliveBuilder:
    def __init__(self, method: str = "NOTIFY", from_uri: str | None = None, extra_headers: str = ""):
        self.method = method
        self.from_uri = from_uri or None
        self.extra = extra_headers or ""
        self.event = "Event: keep-alive\r\n" if method.upper() == "NOTIFY" else ""
        rnd = random.SystemRandom()
        # the Call-ID prefix tells our keepalives' replies apart (reply_filter)
        self.callid_prefix = f"{rnd.getrandbits(31):x}"
        self.counter = rnd.getrandbits(31)
        self.from_tag = rnd.getrandbits(31)
        self._rnd = rnd

    def build(self, uri: str, sock_host: str, sock_port: int) -> bytes:
        from_uri = self.from_uri or f"sip:keepalive@{sock_host}"
        branch = self._rnd.randint(1000000, 9999999)
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        self.from_tag = (self.from_tag + 1) & 0xFFFFFFFF
        ticks = int(time.monotonic() * 1000) & 0xFFFFFFFF
        text = (f"{self.method} {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {sock_host}:{sock_port};branch=z9hG4bK{branch}\r\n"
                f"From: {from_uri};tag={self.from_tag:x}\r\n"
                f"To: {uri}\r\n"
                f"Call-ID: {self.callid_prefix}-{self.counter:x}-{ticks:x}@{sock_host}\r\n"
                f"CSeq: 1 {self.method}\r\n"
                f"{self.event}{self.extra}"
                "Content-Length: 0\r\n\r\n")
        return text.encode("latin-1")

    def is_reply_to_ours(self, msg) -> bool:
        """A reply to one of our keepalives: one Via, our method, our Call-ID prefix."""
        if msg.via2 is not None:
            return False
        cseq = msg.cseq
        if cseq is None or cseq.method != self.method:
            return False
        callid = msg.callid or ""
        p = self.callid_prefix
        return callid.startswith(p) and callid[len(p):len(p) + 1] == "-"
