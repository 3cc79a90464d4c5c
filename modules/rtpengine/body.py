"""Which part of a message rtpengine gets as "sdp" (the shared finder,
kamapy.sip.sdp_body, in rtpengine's flavour), and how its answer replaces it (Kamailio's
del_lump + insert_new_lump_after of rtpengine_offer_answer).

The replacement is one body lump over exactly the range that was sent, so it composes
with other lumps the way Kamailio's does: a textops or fix_nated_sdp change inside that
range is dropped with it (the overlapped-lump rule), anything outside it stays.
"""

from __future__ import annotations

from kamapy.sip.lumps import del_lump, insert_after
from kamapy.sip.sdp_body import CT_MULTIPART, CT_SDP, CT_TRICKLE, RTPENGINE, extract_sdp, has_sdp

__all__ = ["CT_MULTIPART", "CT_SDP", "CT_TRICKLE", "extract", "has_sdp", "replace", "replace_whole_body"]


def extract(msg):
    """(start, end, kind): the SDP's offsets in msg.text, or None (logged); Kamailio's
    rtpengine extract_body (trickle-ice-sdpfrag too, one CRLF off a multipart part)."""
    return extract_sdp(msg, RTPENGINE)


def replace(msg, start: int, end: int, text: str):
    """Replace msg.text[start:end] by text (the rtpengine answer)."""
    anchor = del_lump(msg, start, end - start, "body")
    insert_after(anchor, text, "body")


def replace_whole_body(msg, text: str):
    """read_sdp_pv mode: the SDP came from a variable; the whole body is replaced."""
    _ = msg.eoh
    start = msg.body_start
    anchor = del_lump(msg, start, len(msg.text) - start, "body")
    insert_after(anchor, text, "body")
