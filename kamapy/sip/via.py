"""The Via header (RFC 3261 §20.42, RFC 3581 rport), like Kamailio's parse_via.

One Via header may hold several comma-separated via-parms; parse_via returns them all.
Offsets (start, end, sent_by_end, param_spans) are absolute offsets into the text given
(msg.text when called through SipMsg), so lumps can target a via or one of its params.
"""

from __future__ import annotations

from .errors import SipParseError
from .scan import WS, param_method, param_spans, split_commas

_V6_OK = frozenset("0123456789abcdefABCDEF:.")


def _named_param(name: str) -> property:
    """self.param(name) as a property in one frame: the name written as is (the usual
    case) matches at once, any other case through lower()."""
    size = len(name)

    def get(self):
        for n, v in self.params:
            # lower() makes no string shorter, and its one longer result (U+0130's) is
            # not ASCII: a name of another length is not this one, without lower()
            if n == name or len(n) == size and n.lower() == name:
                return "" if v is None else v
        return None
    return property(get, doc=f"The {name} parameter: '' for a flag, None when absent.")


class Via:
    __slots__ = ("protocol", "transport", "host", "port", "port_str", "params",
                 "param_spans", "start", "end", "sent_by_end", "text")

    def __init__(self):
        self.params = []
        self.param_spans = []

    param = param_method  # one function for both classes, no extra call

    def param_span(self, name: str) -> tuple[int, int] | None:
        """(start, end) of 'name[=value]' of a parameter (no leading ';')."""
        lname = name.lower()
        for (n, _), span in zip(self.params, self.param_spans, strict=True):
            if n.lower() == lname:
                return span
        return None

    branch = _named_param("branch")
    received = _named_param("received")
    maddr = _named_param("maddr")
    ttl = _named_param("ttl")
    i = _named_param("i")
    alias = _named_param("alias")
    # None when absent, '' for the bare flag (RFC 3581 request), else the value
    rport = _named_param("rport")

    @property
    def proto(self) -> str:
        """The transport lowercase: 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss'."""
        return self.transport.lower()

    @property
    def host_bare(self) -> str:
        h = self.host
        return h[1:-1] if h[:1] == "[" else h

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port_str}" if self.port_str else self.host

    def __repr__(self):
        return f"Via({self.text!r})"


# kamapy.sip.sipscan.via_parm (the C reader of one simple via-parm), bound when that
# module loads: it imports this one, so it cannot be imported here
_fast_parm = None


def parse_via(value: str, start: int = 0, end: int | None = None) -> list[Via]:
    """Every via-parm in value[start:end]; offsets in the result are into `value`."""
    if end is None:
        end = len(value)
    if value.find(",", start, end) < 0:  # the usual case: one via in the header
        while start < end and value[start] in WS:
            start += 1
        while end > start and value[end - 1] in WS:
            end -= 1
        if start == end:
            raise SipParseError("empty Via")
        return [_parse_one(value, start, end)]
    vias = []
    fast = _fast_parm
    data = None
    if fast is not None:
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError:
            pass
    for s, e in split_commas(value, start, end):
        v = fast(data, value, s, e) if data is not None else None
        vias.append(v if v is not None else _parse_one(value, s, e))
    if not vias:
        raise SipParseError("empty Via")
    return vias


def _host_ok(host: str) -> bool:
    h = host.replace(".", "").replace("-", "").replace("_", "")
    return h.isalnum() and h.isascii()


def _parse_one(text: str, s: int, e: int) -> Via:
    v = Via()
    v.start = s
    v.end = e
    seg = v.text = text[s:e]
    semi = seg.find(";")
    head = seg if semi < 0 else seg[:semi]
    # sent-protocol: name / version / transport (LWS allowed around '/')
    parts = head.split("/", 2)
    if len(parts) != 3:
        raise SipParseError("bad Via protocol")
    name = parts[0]
    version = parts[1]
    if name != "SIP" or version != "2.0":
        name = name.strip(WS)
        version = version.strip(WS)
        # Kamailio's parse_via knows SIP/2.0 only (any case): SIP/1.0, FOO/2.0 are errors
        if name.upper() != "SIP" or version != "2.0":
            raise SipParseError("bad Via protocol")
    v.protocol = name + "/" + version
    tail = parts[2].split(None, 1)
    if len(tail) != 2:
        raise SipParseError("Via without sent-by")
    transport, sent_by = tail
    if not transport.isalnum() or not transport.isascii():
        raise SipParseError("bad Via transport")
    v.transport = transport.upper()
    # offset just past sent-by: where Kamailio inserts ;received= on requests
    if sent_by[-1] in WS:
        sent_by = sent_by.rstrip(WS)
        v.sent_by_end = s + len(head.rstrip(WS))
    else:
        v.sent_by_end = s + len(head)
    if sent_by[0] == "[":
        rb = sent_by.find("]")
        if rb < 4 or any(c not in _V6_OK for c in sent_by[1:rb]):
            raise SipParseError("bad Via IPv6 host")
        host = sent_by[:rb + 1]
        port_part = sent_by[rb + 1:].strip(WS)
        if port_part and port_part[0] != ":":
            raise SipParseError("junk after Via host")
        port_str = port_part[1:].strip(WS) if port_part else None
    else:
        c = sent_by.find(":")
        if c < 0:
            host = sent_by
            port_str = None
        else:
            host = sent_by[:c].rstrip(WS)
            port_str = sent_by[c + 1:].strip(WS)
        if not _host_ok(host):
            raise SipParseError("bad Via host")
    v.host = host
    if port_str is None:
        v.port_str = ""
        v.port = None
    else:
        if not port_str.isdigit() or not port_str.isascii() or len(port_str) > 5 \
                or int(port_str) > 65535:
            raise SipParseError("bad Via port")
        v.port_str = port_str
        v.port = int(port_str)
    if semi >= 0:
        params = v.params
        spans = v.param_spans
        ptxt = seg[semi + 1:]
        if '"' in ptxt:
            items = [(ps - s, pe - s) for ps, pe in param_spans(text, s + semi + 1, e)]
        else:
            items = []
            off = semi + 1
            parts = ptxt.split(";")
            last = len(parts) - 1
            for k, part in enumerate(parts):
                ps = off
                off += len(part) + 1
                pe = off - 1
                if part[:1] in WS or part[-1:] in WS:
                    while ps < pe and seg[ps] in WS:
                        ps += 1
                    while pe > ps and seg[pe - 1] in WS:
                        pe -= 1
                if pe == ps:
                    if k < last:  # Kamailio's parse_via: "null param?" -- ";;" is an error
                        raise SipParseError("empty Via parameter")
                    continue  # a trailing ';'
                items.append((ps, pe))
        for ps, pe in items:
            eq = seg.find("=", ps, pe)
            if eq < 0:
                pname = seg[ps:pe]
                val = None
            else:
                pname = seg[ps:eq]
                val = seg[eq + 1:pe]
                if pname[-1:] in WS or val[:1] in WS:
                    pname = pname.rstrip(WS)
                    val = val.lstrip(WS)
            if not pname.isalnum() and not _token_ok(pname):
                raise SipParseError("bad Via parameter")
            params.append((pname, val))
            spans.append((s + ps, s + pe))
    return v


def _token_ok(name: str) -> bool:
    return bool(name) and name.isascii() and not any(c in name for c in ' \t\r\n"<>@:,;/[]?=')
