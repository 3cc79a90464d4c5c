"""nathelper's SIP pings: the request sent to a contact, and the recognising of its
reply (Kamailio: sip_pinger.h build_sipping / sipping_rpl_filter, and
nh_sip_reply_received for keepalive_timeout).

The request is Kamailio's, field by field:
    <method> <contact> SIP/2.0
    Via: SIP/2.0/UDP <socket address>:<port>;branch=z9hG4bK<7 digits>
    [Route: <path>]
    From: <sipping_from>;tag=<ruid>-<aorhash>-<counter>
    To: <contact>
    Call-ID: <fixed part>-<counter>-<ticks>@<socket address>
    CSeq: 1 <method>
    Content-Length: 0
with the numbers as reverse (low nibble first) hex. The fixed Call-ID part is random
per process (made in the master, so every ping process shares it, as in Kamailio).
"""

from __future__ import annotations

import logging
import random
import time

from kamapy.sip.errors import SipParseError
from kamapy.sip.local_request import build_local_request

log = logging.getLogger("kamapy.nathelper")

_HEX = "0123456789abcdef"


def reverse_hex(n: int) -> str:
    """Kamailio's int2reverse_hex: hex digits, least significant first."""
    n &= 0xFFFFFFFF
    out = []
    while True:
        out.append(_HEX[n & 15])
        n >>= 4
        if not n:
            break
    return "".join(out)


def reverse_hex2int(s: str) -> int | None:
    n = 0
    for i, ch in enumerate(s):
        v = _HEX.find(ch.lower())
        if v < 0:
            return None
        n |= v << (4 * i)
    return n


class Pinger:
    """What a SIP ping needs, set up once in mod_init."""

    def __init__(self, method: str, from_uri: str):
        self.method = method
        self.from_uri = from_uri
        rnd = random.SystemRandom()
        self.callid_prefix = reverse_hex(rnd.getrandbits(32))
        self.callid_cnt = rnd.getrandbits(32)
        self.fromtag_cnt = rnd.getrandbits(32)
        self.start = time.monotonic()

    def build(self, contact: str, sock, path: str, ruid: str, aorhash: int) -> bytes:
        self.fromtag_cnt = (self.fromtag_cnt + 1) & 0xFFFFFFFF
        self.callid_cnt = (self.callid_cnt + 1) & 0xFFFFFFFF
        ticks = int((time.monotonic() - self.start) * 16)  # Kamailio's ticks: 1/16 s
        call_id = (f"{self.callid_prefix}-{reverse_hex(self.callid_cnt)}-{reverse_hex(ticks)}"
                   f"@{sock.address}")
        tag = f"{ruid}-{reverse_hex(aorhash)}-{reverse_hex(self.fromtag_cnt)}"
        return build_local_request(self.method, contact, sock, from_=self.from_uri, from_tag=tag,
                                   to=contact, call_id=call_id, cseq=1, route=path)

    # ------------------------------------------------------------------ replies
    def is_ping_reply(self, msg) -> bool:
        """Kamailio's sipping_rpl_filter: one Via only, our method in CSeq, our fixed
        Call-ID part followed by '-'."""
        # the Call-ID first: it comes from the receive scan, the Via count parses Vias
        try:
            cid = msg.callid
            p = self.callid_prefix
            if len(cid) <= len(p) + 1 or not cid.startswith(p) or cid[len(p)] != "-":
                return False
            return msg.cseq.method == self.method and len(msg.vias) == 1
        except SipParseError:
            return False

    def keepalive_of(self, msg) -> tuple[str, int] | None:
        """(ruid, aorhash) from the From tag of a ping reply (nh_sip_reply_received),
        or None when the From is not ours."""
        try:
            f = msg.from_hdr
        except SipParseError:
            return None
        if f.uri != self.from_uri:
            return None
        tag = f.tag or ""
        # ruid-aorhash-counter; the ruid itself may hold '-'
        head, sep, _counter = tag.rpartition("-")
        if not sep:
            return None
        ruid, sep, ah = head.rpartition("-")
        if not sep or not ruid or not ah:
            return None
        aorhash = reverse_hex2int(ah)
        if aorhash is None:
            return None
        return ruid, aorhash
