"""The keepalive request sent to a NAT endpoint (Kamailio sends it statelessly, built by
hand, not through tm). The bytes come from kamapy/sip/local_request.py, the builder
nathelper's SIP pings use too; this keeps the module's part: the Call-ID scheme and
counters, and telling our keepalives' replies apart.

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

from kamapy.sip.local_request import build_local_request, new_branch


class KeepaliveBuilder:
    def __init__(self, method: str = "NOTIFY", from_uri: str | None = None, extra_headers: str = ""):
        self.method = method
        self.from_uri = from_uri or None
        self.extra = extra_headers or ""
        self.event = (("Event", "keep-alive"),) if method.upper() == "NOTIFY" else ()
        rnd = random.SystemRandom()
        # the Call-ID prefix tells our keepalives' replies apart (reply_filter)
        self.callid_prefix = f"{rnd.getrandbits(31):x}"
        self.counter = rnd.getrandbits(31)
        self.from_tag = rnd.getrandbits(31)

    def build(self, uri: str, sock) -> bytes:
        """The keepalive to `uri` leaving from `sock` (a SocketInfo: its advertised
        address and port go in the Via, From and Call-ID)."""
        host = sock.via_host
        from_uri = self.from_uri or f"sip:keepalive@{host}"
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        self.from_tag = (self.from_tag + 1) & 0xFFFFFFFF
        ticks = int(time.monotonic() * 1000) & 0xFFFFFFFF
        return build_local_request(
            self.method, uri, sock, from_=from_uri, from_tag=f"{self.from_tag:x}", to=uri,
            call_id=f"{self.callid_prefix}-{self.counter:x}-{ticks:x}@{host}", cseq=1,
            branch=new_branch(), headers=self.event, extra=self.extra, transport="UDP")

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
