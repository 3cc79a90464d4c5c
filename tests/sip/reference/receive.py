"""REFERENCE ONLY (tests): the pure-Python receive checks as it was before the C scanner
(kamapy/_native/kp_sipscan.c). tests/sip/test_sipscan.py checks that the fast path gives
the same results and the same errors on any input. Do not import from kamapy."""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from tests.sip.reference.msg import RecvInfo, SipMsg

MIN_UDP_PACKET = 32


def parse_received(data: bytes, rcv: RecvInfo | None = None, msg_id: int = 0) -> SipMsg:
    try:
        return _parse(data, rcv, msg_id)
    except SipParseError:
        raise
    except Exception as e:  # noqa: BLE001 -- the one place where anything becomes a parse error
        raise SipParseError(f"unreadable message: {type(e).__name__}: {e}", None) from e


def _parse(data, rcv, msg_id):
    if len(data) < MIN_UDP_PACKET:
        raise SipParseError("probing packet", None)
    try:
        msg = SipMsg(data, rcv, msg_id)
    except SipParseError as e:
        raise SipParseError(e.reason, None) from None
    version = msg.version.upper()
    if version != "SIP/2.0":
        if msg.is_request and version in ("HTTP/1.0", "HTTP/1.1"):
            _ = msg.headers  # the header block must be readable
            return msg
        raise SipParseError("unsupported protocol version", None)
    try:
        _ = (msg.via1, msg.to_hdr, msg.cseq, msg.callid, msg.content_length)
        if msg._first("from") is None:
            raise SipParseError("no From header")
    except SipParseError as e:
        raise SipParseError(e.reason, None) from None
    return msg


def check_content_length(msg: SipMsg) -> None:
    """sanity's check_cl: Content-Length must equal the body size (400 otherwise)."""
    try:
        cl = msg.content_length
    except SipParseError:
        raise SipParseError("Content-Length Failure", 400) from None
    if cl is not None and cl != len(msg.data) - msg.body_start:
        raise SipParseError("Content-Length mis-match", 400)
