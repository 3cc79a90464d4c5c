"""The checks Kamailio makes on a datagram before any route runs.

parse_received(data, rcv) returns a SipMsg that passed them, or raises SipParseError;
`status` None means drop silently (what Kamailio does in every case below: receive_msg
jumps to its error exit, no reply is sent -- replying 400 is the sanity module's job).

| case | Kamailio (file: function) | kamapy |
|---|---|---|
| datagram shorter than 32 bytes (keepalive, "\\r\\n\\r\\n") | core/udp_server.c: udp_rcv_loop, MIN_UDP_PACKET | drop |
| bad first line (no SIP/2.0 or HTTP/1.x version, bad status, missing parts) | core/parser/parse_fline.c: parse_first_line via parse_msg; core/receive.c: receive_msg | drop |
| header line without colon / bad name, above the last of Via/From/To/Call-ID/CSeq/Content-Length | core/parser/msg_parser.c: get_hdr_field, parse_headers | drop |
| the same below them, or no empty line ending the headers | not read by receive_msg; fails when a function needs it | accepted; the accessor that reaches it raises (e.g. msg.body, msg.headers) |
| request/reply without a Via, or top Via unparseable | core/receive.c: receive_msg "no via found" | drop |
| From, To, Call-ID or CSeq missing | core/receive.c: receive_msg "required headers not found" | drop |
| To body or CSeq body unparseable | core/parser/msg_parser.c: get_hdr_field parses To/CSeq while parse_headers(FROM,TO,CALLID,CSEQ) runs | drop |
| Content-Length not a number | core/parser/msg_parser.c: get_hdr_field (parse_content_length) | drop (Kamailio: only when the header is reached by that parse; else sanity answers 400 -- kamapy always drops) |
| Content-Length larger/smaller than the body in a UDP datagram | core: not checked (body = rest of the datagram); modules/sanity/sanity.c: check_cl replies 400 "Content-Length mis-match" | accepted; check_content_length() raises status 400 for sanity |
| HTTP/1.x request (xhttp, websocket handshake) | core/receive.c: nonsip_msg_run_hooks before the SIP checks | accepted without the SIP header checks (msg.is_sip False) |
| From body unparseable | not parsed by receive_msg (only when a function asks) | accepted; the accessor raises later |

Nothing but SipParseError leaves this module (a bug elsewhere surfaces as SipParseError
with the exception text, so a worker never dies on a packet).
"""

from __future__ import annotations

from . import sipscan as _ss
from .errors import SipParseError
from .msg import RecvInfo, SipMsg

_RECV_OK = _ss.RECV_OK

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
    sc = msg._sc
    if sc is not None and sc[_RECV_OK]:
        # the C scan found the message as the checks below want it: "SIP/2.0", every
        # key field read, Content-Length read (or absent with the block complete), a
        # From, no line Kamailio's parse_headers could refuse above the last one read
        # (kp_sipscan.h KP_SS_RECV_OK; tests/sip/test_scan_verdicts.py holds it to the
        # checks it stands for)
        return msg
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
