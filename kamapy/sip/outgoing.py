"""Building the bytes of a message to send on, as Kamailio's build_req_buf_from_sip_req
and generate_res_buf_from_sip_res (core/msg_translator.c) do:

build_request(msg, via):
  - the new R-URI (msg.new_uri) in the request line;
  - our Via line above the top Via (an anchor made now, so after earlier anchors at the
    same offset: a Record-Route added on top of the headers stays above it);
  - on the received top Via, ;received=<src ip> when it had received/rport or its host
    is not the source (replacing an old received) and ;rport=<src port> when it had rport
    or force_rport -- both right after sent-by, rport first when both are new;
  - a Route line with msg.path_vec (from lookup() of a contact registered with Path)
    above the first Route, else just under our Via;
  - every lump of msg.lumps, then Content-Length: fixed when the body changed (added for
    stream transports when absent, left absent on UDP), and on TCP/TLS also when it was
    wrong in the request.

build_reply_forward(msg): a received reply minus its top Via, with lumps applied (without
lumps, on a datagram transport, with a top Via line the scan parsed: the datagram bytes
minus that line, no lump engine).

msg.lumps is not changed: the extra lumps live in a working copy, so tm can build a
request once per branch.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from operator import attrgetter

from . import sipscan as _ss
from .errors import SipParseError
from .lumps import ADD, DEL, NOP, Lump, insert_after, insert_before
from .msg import REPLY, REQUEST, SipMsg
from .reply import same_host
from .sipscan import HDR as _HDR
from .sipscan import HREC as _HREC
from .sipscan import STOP as _STOP
from .sipscan import STOP_END as _STOP_END
from .sipscan import V_LINE as _V_LINE
from .sipscan import V_NEXT as _V_NEXT
from .sipscan import V_OK as _V_OK
from .wire import join_wire

CRLF = "\r\n"
STREAM_PROTOS = ("tcp", "tls", "ws", "wss")


class _Work:
    """A working copy of the lump list, for lumps the builder adds itself."""

    __slots__ = ("msg", "lumps")

    def __init__(self, msg):
        self.msg = msg
        self.lumps = list(msg.lumps) if msg.lumps else []

    def anchor(self, offset, op=NOP, length=0, kind=None):
        lump = Lump(op, offset, length, "", kind)
        insort(self.lumps, lump, key=_offset)
        return lump


def _offset(lump):
    return lump.offset


_offset_of = attrgetter("offset")  # _offset in C: a bisect's key without a Python call per probe


def build_request(msg: SipMsg, via: str | None = None, proto: str = "udp",
                  rcv_params: bool = True, force_rport: bool = False,
                  path: bool = True) -> bytes:
    """The request as it goes out. `via` is our Via value ("SIP/2.0/UDP host;branch=...")
    or a whole "Via: ..." line; None adds no Via (and does not touch the top one)."""
    if msg.type != REQUEST:
        raise SipParseError("build_request needs a request", None)
    work = _Work(msg)
    via_line = msg.hdr_line("via")  # (start, end) as get_header("via") has them, no HeaderField
    via_anchor = None
    if via is not None:
        if via_line is None:
            raise SipParseError("no Via header")
        line = via if via[:4].lower() == "via:" else "Via: " + via
        if not line.endswith("\n"):
            line += CRLF
        via_anchor = work.anchor(via_line[0], kind="via")
        insert_before(via_anchor, line, "via")
        if rcv_params:
            _received_params(work, msg, force_rport)
    if path and msg.path_vec:
        route_line = "Route: " + msg.path_vec + CRLF
        route = msg.get_header("route")
        if route is not None:
            insert_before(work.anchor(route.start, kind="route"), route_line, "route")
        elif via_anchor is not None:  # after our Via, above the received one
            insert_after(via_anchor, route_line, "route")
        else:
            at = via_line[0] if via_line is not None else msg.eoh
            insert_before(work.anchor(at, kind="route"), route_line, "route")
    head = []
    pos = 0
    if msg.new_uri is not None and msg.new_uri != msg.ruri:
        ustart = len(msg.method) + 1
        head.append(msg.text[:ustart])
        head.append(msg.new_uri)
        pos = ustart + len(msg.ruri)
    return _assemble(msg, work, head, pos, proto)


def build_reply_forward(msg: SipMsg, proto: str = "udp") -> bytes:
    """A received reply as relayed upstream: the top Via removed, lumps applied.

    Fast path (the usual relayed reply): no lumps, the scan parsed the top Via and
    indexed the whole header block, and a datagram transport (no Content-Length work):
    the result is the datagram minus that Via line, or, when further via-parms share
    its line (SIPp's replies), minus the top via-parm and its comma up to the next --
    what _build_reply_forward gives."""
    sc = msg._sc
    if (sc is not None and sc[_V_OK] and not msg.lumps and msg.type == REPLY
            and sc[_STOP] == _STOP_END and (proto == "udp" or proto.lower() not in STREAM_PROTOS)
            and (sc[_ss.BADMIN] == sc[_ss.NHDR] or not msg._bad_line())):  # else Python raises it
        data = msg.data
        if type(data) is bytes:
            nxt = sc[_V_NEXT]
            if nxt >= 0:
                return data[:sc[_ss.V_S]] + data[nxt:]
            r = _HDR + _HREC * sc[_V_LINE]
            return data[:sc[r + 1]] + data[sc[r + 5]:]
    return _build_reply_forward(msg, proto)


def _build_reply_forward(msg: SipMsg, proto: str = "udp") -> bytes:
    """build_reply_forward's general path: a Via deletion lump and the lump engine."""
    if msg.type != REPLY:
        raise SipParseError("build_reply_forward needs a reply", None)
    work = _Work(msg)
    via1 = msg.via1
    hf = msg.get_header("via")
    vias_here = msg._vias_of(hf)
    if len(vias_here) == 1:
        work.anchor(hf.start, DEL, hf.end - hf.start, "via")
    else:
        # several vias in one header: drop the first and its comma
        nxt = vias_here[1].start
        work.anchor(via1.start, DEL, nxt - via1.start, "via")
    return _assemble(msg, work, [], 0, proto)


def build_message(msg: SipMsg, proto: str = "udp") -> bytes:
    """A request or a reply with its lumps (and a request's new R-URI) applied, nothing
    added: what tm's "dry run" or a test of the lump engine wants."""
    if msg.type == REQUEST:
        return build_request(msg, None, proto, path=False)
    return _assemble(msg, _Work(msg), [], 0, proto)


def _received_params(work: _Work, msg: SipMsg, force_rport: bool):
    """Kamailio's received/rport update of the top Via of a forwarded request."""
    v = msg.via1
    text = msg.text
    rcv = msg.rcv
    add_received = v.received is not None or v.rport is not None or not same_host(v.host, rcv.src_ip)
    add_rport = v.rport is not None or force_rport
    point = None
    if add_received:
        span = v.param_span("received")
        if span is not None:
            semi = text.rfind(";", v.sent_by_end, span[0])
            point = work.anchor(semi, DEL, span[1] - semi, "via")
        else:
            point = work.anchor(v.sent_by_end, kind="via")
        insert_after(point, ";received=" + rcv.src_ip, "via")
    if add_rport:
        span = v.param_span("rport")
        if span is not None:
            semi = text.rfind(";", v.sent_by_end, span[0])
            point = work.anchor(semi, DEL, span[1] - semi, "via")
        elif point is None:
            point = work.anchor(v.sent_by_end, kind="via")
        insert_after(point, f";rport={rcv.src_port}", "via")


def _assemble(msg: SipMsg, work: _Work, head: list, pos: int, proto: str) -> bytes:
    text = msg.text
    _ = msg.eoh  # makes sure the header block (and body_start) is indexed
    body_start = msg.body_start
    lumps = work.lumps
    # the body first: its new length decides the Content-Length lumps in the headers
    split = bisect_left(lumps, body_start, key=_offset_of)  # the anchors are sorted by offset
    body_parts: list[str] = []
    body_changed = split < len(lumps)
    if body_changed:
        bpos = _apply(text, lumps[split:], body_parts, body_start)
        body_parts.append(text[bpos:])
        new_body = join_wire(body_parts)
        body_len = len(new_body)
    else:
        new_body = None
        body_len = len(text) - body_start
    stream = proto.lower() in STREAM_PROTOS
    if body_changed or stream:
        _content_length(msg, work, body_len, body_changed, stream)
        lumps = work.lumps
        split = bisect_left(lumps, body_start, key=_offset_of)
    parts = head
    pos = _apply(text, lumps[:split], parts, pos)
    if new_body is None:
        parts.append(text[pos:])
        return join_wire(parts)
    if pos < body_start:
        parts.append(text[pos:body_start])
    return join_wire(parts) + new_body


def _content_length(msg: SipMsg, work: _Work, body_len: int, body_changed: bool, stream: bool):
    hf = msg.get_header("content-length")
    if hf is None:
        if stream:
            insert_before(work.anchor(msg.eoh, kind="content-length"),
                          f"Content-Length: {body_len}{CRLF}", "content-length")
        return
    try:
        old = msg.content_length
    except SipParseError:
        old = None
    if old == body_len:
        return
    s, e = msg.raw_value_span(hf)
    a = work.anchor(s, DEL, e - s, "content-length")
    insert_after(a, str(body_len), "content-length")


def _apply(text: str, lumps, parts: list, pos: int) -> int:
    """Copy text from pos, applying lumps (sorted anchors); return the new position."""
    for t in lumps:
        op = t.op
        if op == ADD:  # a bare text lump in the anchor list: printed where it falls
            parts.extend(_chain_texts(t))
            continue
        off = t.offset
        if pos > off:
            continue  # inside a range already deleted: dropped with its text
        if off > pos:
            parts.append(text[pos:off])
            pos = off
        r = t.before
        while r is not None:
            parts.append(r.text)
            r = r.before
        if op == DEL:
            pos += t.length
        r = t.after
        while r is not None:
            parts.append(r.text)
            r = r.after
    return pos


def _chain_texts(t):
    out = []
    r = t.before
    while r is not None:
        out.append(r.text)
        r = r.before
    out.append(t.text)
    r = t.after
    while r is not None:
        out.append(r.text)
        r = r.after
    return out



