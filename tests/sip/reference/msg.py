"""REFERENCE ONLY (tests): the pure-Python SipMsg header index and typed accessors as it was before the C scanner
(kamapy/_native/kp_sipscan.c). tests/sip/test_sipscan.py checks that the fast path gives
the same results and the same errors on any input. Do not import from kamapy."""

from __future__ import annotations

from kamapy.sip.contact import parse_contacts
from kamapy.sip.cseq import parse_cseq
from kamapy.sip.digest import parse_digest
from kamapy.sip.errors import SipParseError
from kamapy.sip.header_values import (
    parse_callid,
    parse_content_length,
    parse_content_type,
    parse_event,
    parse_expires,
    parse_max_forwards,
    parse_token_list,
)
from kamapy.sip.headers import header_key, name_key
from kamapy.sip.methods import method_id
from kamapy.sip.nameaddr import parse_nameaddr, parse_to_body
from kamapy.sip.scan import split_commas
from kamapy.sip.sdp import parse_sdp
from kamapy.sip.uri import parse_uri
from kamapy.sip.via import parse_via

_MISSING = object()
_NAME_KEYS: dict[str, str] = {}


def _new_name_key(raw: str) -> str:
    """Validate a header name as written and remember its key (bounded cache)."""
    key = name_key(raw)
    if len(_NAME_KEYS) < 2048:
        _NAME_KEYS[raw] = key
    return key

REQUEST = 1
REPLY = 2

# transport protocol ids (Kamailio's PROTO_*): `proto == udp` in a config compares these
PROTO_NONE, PROTO_UDP, PROTO_TCP, PROTO_TLS, PROTO_SCTP, PROTO_WS, PROTO_WSS = 0, 1, 2, 3, 4, 5, 6
PROTO_NAMES = {PROTO_UDP: "udp", PROTO_TCP: "tcp", PROTO_TLS: "tls", PROTO_SCTP: "sctp",
               PROTO_WS: "ws", PROTO_WSS: "wss"}
PROTO_IDS = {v: k for k, v in PROTO_NAMES.items()}


class RecvInfo:
    """Where a message came from and on which local socket it arrived."""

    __slots__ = ("src_ip", "src_port", "dst_ip", "dst_port", "proto", "af", "sock")

    def __init__(self, src_ip="127.0.0.1", src_port=5060, dst_ip="127.0.0.1", dst_port=5060,
                 proto=PROTO_UDP, sock=None):
        self.src_ip = src_ip
        self.src_port = src_port
        self.dst_ip = dst_ip
        self.dst_port = dst_port
        self.proto = proto
        self.af = 6 if ":" in src_ip else 4
        self.sock = sock  # the kamapy.net.socket_info.SocketInfo it arrived on, or None


class HeaderField:
    """One header line as received.

    name: as written ("v", "VIA"); key: canonical lowercase full name ("via");
    value: the body with folding joined and outer whitespace stripped;
    start/end: offsets in msg.text covering the whole line(s) including the CRLF,
    which is what a lump deleting the header removes.
    """

    __slots__ = ("name", "key", "value", "start", "end", "parsed")

    def __init__(self, name, key, value, start, end):
        self.name = name
        self.key = key
        self.value = value
        self.start = start
        self.end = end
        self.parsed = None  # typed body, filled by the accessor that needs it

    def __repr__(self):
        return f"HeaderField({self.name!r}: {self.value!r})"


class SipMsg:
    """A SIP request or reply. Build one with SipMsg(data_bytes, RecvInfo(...))."""

    __slots__ = (
        "data", "text", "rcv", "type", "method", "method_id", "ruri", "version",
        "status", "reason", "first_line_end", "_headers", "_index", "body_start",
        "_cache", "id", "_keys", "_starts", "_done", "_pos", "_nl", "_hf", "_bad", "_ends", "_eoh", "_refolding",
        # routing state (Kamailio keeps these in sip_msg and the dset)
        "new_uri", "dst_uri", "force_send_socket", "flags", "ruri_bflags", "ruri_q",
        "path_vec", "instance", "ruid", "reg_id", "branches", "lumps", "reply_lumps",
        "xflags", "ctx", "avps", "xavps",
    )

    def __init__(self, data: bytes, rcv: RecvInfo | None = None, msg_id: int = 0):
        self.data = data
        self.text = text = data.decode("latin-1")
        self.rcv = rcv or RecvInfo()
        self.id = msg_id
        self._headers = None
        self._index = None
        self._cache = {}
        self.body_start = -1
        self.new_uri = None
        self.dst_uri = None
        self.force_send_socket = None
        self.flags = 0
        self.ruri_bflags = 0
        self.ruri_q = -1
        self.path_vec = None
        self.instance = None
        self.ruid = None
        self.reg_id = 0
        self.branches = []
        self.lumps = None
        self.reply_lumps = None
        self.xflags = 0
        self.ctx = None  # per-message script context (kamapy.cfg), set by the runner
        self.avps = None   # {name: [values, newest first]}; tm carries them with the transaction
        self.xavps = None  # {name: [ {field: [values]} , ...]}

        eol = text.find("\r\n")
        if eol < 0:
            eol = text.find("\n")
            if eol < 0:
                raise SipParseError("no end of first line")
        self.first_line_end = eol
        line = text[:eol]
        if line.startswith("SIP/"):
            parts = line.split(" ", 2)
            if len(parts) < 2 or len(parts[1]) != 3 or not parts[1].isdigit():
                raise SipParseError("bad status line")
            self.type = REPLY
            self.version = parts[0]
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.method = None
            self.method_id = 0
            self.ruri = None
        else:
            parts = line.split(" ")
            if len(parts) != 3 or not parts[2].startswith(("SIP/", "HTTP/")):
                raise SipParseError("bad request line")
            self.type = REQUEST
            self.method, self.ruri, self.version = parts
            if not self.method or not self.ruri:
                raise SipParseError("bad request line")
            self.method_id = method_id(self.method)
            self.status = 0
            self.reason = None

    # ---------------------------------------------------------------- first line
    @property
    def is_request(self) -> bool:
        return self.type == REQUEST

    @property
    def is_sip(self) -> bool:
        """False for an HTTP request (xhttp, websocket handshake)."""
        return not self.version.upper().startswith("HTTP/")

    @property
    def first_line(self) -> str:
        return self.text[: self.first_line_end]

    # ---------------------------------------------------------------- headers
    # Header lines are indexed only as far as a lookup needs (like Kamailio's
    # parse_headers(msg, flags)): the routing headers sit near the top, so a proxy rarely
    # pays for the rest. HeaderField objects are made on first access. A folded header
    # (rare) switches the message to an eager path that joins continuation lines.
    # body_start is known (>= 0) once the whole block is indexed: use `body`/`eoh`.

    def _start_index(self):
        text = self.text
        fle = self.first_line_end
        self._nl = "\r\n" if text.startswith("\r\n", fle) else "\n"
        self._index = {}   # key -> line number of its first header
        self._keys = []    # key of each header line
        self._starts = []  # offset of each header line
        self._hf = {}      # line number -> HeaderField, made on demand
        self._pos = fle + len(self._nl)
        self._done = False
        self._bad = None   # (line, reason) where parse_headers stopped for good
        self._ends = []    # (value end, line end) of each header line
        self._eoh = -1

    def _line_at(self, pos):
        """(content end, next line start) of the line at pos: each line ends at its own
        LF, a CR before it is part of the break; None when no LF follows."""
        e = self.text.find("\n", pos)
        if e < 0:
            return None
        return (e - 1 if e > pos and self.text[e - 1] == "\r" else e), e + 1

    def _refuse(self, i, key, first_seen):
        """Kamailio's parse_headers on line i: the reason it stops for good, or None."""
        if key in ("call-id", "to", "from", "cseq", "content-length", "max-forwards") \
                and not first_seen and self.is_sip:
            return f"duplicate {key} header"
        if key == "via" or (first_seen and key in ("to", "cseq", "content-length")):
            hf = self._hf_at(i)
            try:
                if key == "via":
                    self._vias_of(hf)
                elif key == "to":
                    if hf.parsed is None:
                        hf.parsed = parse_to_body(hf.value)
                elif key == "cseq":
                    if hf.parsed is None:
                        s, e = self.raw_value_span(hf)
                        hf.parsed = parse_cseq(self.text[s:e])
                else:
                    if hf.parsed is None:
                        hf.parsed = parse_content_length(hf.value)
            except SipParseError as e:
                return e.reason
        return None

    def _block_after_bad(self):
        """A refused line stops parse_headers, not the framing: where the block ends
        (the body start stays known, as the datagram's framing does not change)."""
        text = self.text
        pos = self._starts[self._bad[0]]
        # a folded line below switches to the re-index's rules (a name-less line is
        # one "without colon" there), as it does for the whole block
        refold = False
        p = pos
        while (le := self._line_at(p)) is not None and le[0] != p:
            refold = refold or text[p] in " \t"
            p = le[1]
        while True:
            le = self._line_at(pos)
            if le is None:
                if pos == len(text):
                    self._eoh = self.body_start = pos
                    return
                raise SipParseError("no end of header block")
            if le[0] == pos:
                self._eoh, self.body_start = pos, le[1]
                return
            if text[pos] not in " \t":  # a folded line only continues the one above
                c = text.find(":", pos, le[0])
                if c < 0 or (refold and c == pos):
                    raise SipParseError("header without colon")
                _NAME_KEYS.get(text[pos:c]) or _new_name_key(text[pos:c])
            pos = le[1]

    def _scan(self, want=None):
        """Index further lines; stop after the first header of key `want` (None: all).
        Returns the line number of that header, or None. A line parse_headers refuses
        stops the scan for good: this and every later scan raise its reason."""
        if self._bad is not None:
            raise SipParseError(self._bad[1])
        if self._done:
            return None
        if getattr(self, "_refolding", False):  # a re-index that failed part way: again
            return self._refold(want)
        text = self.text
        keys = self._keys
        starts = self._starts
        index = self._index
        kget = _NAME_KEYS.get
        find = text.find
        pos = self._pos
        while True:
            le = self._line_at(pos)
            if le is None or le[0] == pos:
                if le is None and pos == len(text) and pos > self.first_line_end + len(self._nl):
                    self.body_start = self._eoh = pos  # the datagram ends after a header line
                    self._done = True
                    self._pos = pos
                    return None
                if le is not None:  # the empty line: end of the header block
                    self._eoh = pos
                    self.body_start = le[1]
                    self._done = True
                    self._pos = pos
                    return None
                raise SipParseError("no end of header block")
            e, nxt = le
            c = find(":", pos, e)
            if c < 0:
                if text[pos] in " \t":
                    return self._refold(want)
                raise SipParseError("header without colon")
            key = kget(text[pos:c])
            if key is None:
                if text[pos] in " \t":
                    return self._refold(want)
                key = _new_name_key(text[pos:c])
            if text[nxt:nxt + 1] in (" ", "\t"):  # its value goes on: folded
                return self._refold(want)
            i = len(keys)
            keys.append(key)
            starts.append(pos)
            self._ends.append((e, nxt))
            first_seen = key not in index
            if first_seen:
                index[key] = i
            why = self._refuse(i, key, first_seen)
            if why is not None:
                self._bad = (i, why)
                raise SipParseError(why)
            pos = self._pos = nxt  # progress kept: a later error does not re-index these
            if first_seen and key == want:
                return i

    def _refold(self, want):
        """Re-index the whole block eagerly, joining folded lines (RFC 3261 §7.3.1),
        then apply parse_headers' refusals in order."""
        text = self.text
        start = self.first_line_end + len(self._nl)
        lines = []
        pos = start
        eoh = -1
        while True:
            le = self._line_at(pos)
            if le is None:
                if pos == len(text) and lines:
                    eoh = body = pos  # no empty line: the block ends with the datagram
                break
            if le[0] == pos:
                eoh, body = pos, le[1]
                break
            lines.append((pos, le[0], le[1]))
            pos = le[1]
        if eoh < 0:
            raise SipParseError("no end of header block")
        self._start_index()
        self._refolding = True
        keys, starts, hfs, index = self._keys, self._starts, self._hf, self._index
        cur = None
        for ls, le, lend in lines:
            if text[ls] in " \t":
                if cur is None:
                    raise SipParseError("folded line before first header")
                cur.value = (cur.value + " " + text[ls:le].strip()).strip()
                cur.end = lend
                continue
            line = text[ls:le]
            c = line.find(":")
            if c <= 0:
                raise SipParseError("header without colon")
            key = _NAME_KEYS.get(line[:c]) or _new_name_key(line[:c])
            cur = HeaderField(line[:c].rstrip(), key, line[c + 1:].strip(), ls, lend)
            i = len(keys)
            keys.append(key)
            starts.append(ls)
            self._ends.append((le, lend))
            hfs[i] = cur
            if key not in index:
                index[key] = i
        self.body_start = body
        self._eoh = eoh
        self._pos = eoh
        self._done = True
        seen = set()
        for i, key in enumerate(keys):
            why = self._refuse(i, key, key not in seen)
            seen.add(key)
            if why is not None:
                self._bad = (i, why)
                break
        i = index.get(want) if want is not None else None
        if self._bad is not None and (i is None or i >= self._bad[0]):
            raise SipParseError(self._bad[1])
        return i

    def _hf_at(self, i) -> HeaderField:
        hf = self._hf.get(i)
        if hf is None:
            text = self.text
            start = self._starts[i]
            end, nxt = self._ends[i]
            c = text.find(":", start, end)
            hf = self._hf[i] = HeaderField(
                text[start:c].rstrip(), self._keys[i], text[c + 1:end].strip(), start, nxt)
        return hf

    def _first(self, key) -> HeaderField | None:
        """The first header of a canonical key (hot path of the typed accessors)."""
        if self._index is None:
            self._start_index()
        i = self._index.get(key)
        bad = self._bad
        if bad is not None and (i is None or i >= bad[0]):
            raise SipParseError(bad[1])
        if i is None:
            i = self._scan(key)
            if i is None:
                return None
        hf = self._hf.get(i)
        return hf if hf is not None else self._hf_at(i)

    def _all(self, key) -> list[HeaderField]:
        if self._index is None:
            self._start_index()
        if not self._done or self._bad is not None:
            self._scan()
        if key not in self._index:
            return []
        return [self._hf_at(i) for i, k in enumerate(self._keys) if k == key]

    def _build_index(self):
        """Index every header (kept for callers of the first contract)."""
        if self._index is None:
            self._start_index()
        if not self._done or self._bad is not None:
            self._scan()

    @property
    def headers(self) -> list[HeaderField]:
        """Every header in received order."""
        if self._headers is None:
            self._build_index()
            self._headers = [self._hf_at(i) for i in range(len(self._keys))]
        return self._headers

    def get_header(self, name: str) -> HeaderField | None:
        """The first header of a name (any case, compact or full), or None."""
        return self._first(header_key(name))

    def get_headers(self, name: str) -> list[HeaderField]:
        """Every header of a name, in order (each line one entry; not split on commas)."""
        return self._all(header_key(name))

    def header_value(self, name: str) -> str | None:
        h = self._first(header_key(name))
        return h.value if h is not None else None

    @property
    def body(self) -> str:
        if self.body_start < 0:
            self._framing()
        return self.text[self.body_start:]

    @property
    def eoh(self) -> int:
        """Offset of the empty line that ends the header block."""
        if self.body_start < 0:
            self._framing()
        return self._eoh

    def _framing(self):
        try:
            self._build_index()
        except SipParseError:
            if self._bad is None:
                raise
        if self.body_start < 0:
            self._block_after_bad()

    @property
    def nl(self) -> str:
        """The line end the message uses ("\\r\\n", or "\\n" for a lax sender)."""
        if self._index is None:
            self._start_index()
        return self._nl

    def raw_value_span(self, hf: HeaderField) -> tuple[int, int]:
        """(start, end) in text of a header's body as received (folding kept, outer
        whitespace trimmed) -- what parsers that report offsets work on."""
        text = self.text
        s = text.find(":", hf.start, hf.end) + 1
        e = hf.end
        while e > s and text[e - 1] in " \t\r\n":
            e -= 1
        while s < e and text[s] in " \t\r\n":
            s += 1
        return s, e

    # ---------------------------------------------------------------- typed bodies
    # Each accessor parses on first use and caches (on the HeaderField or in _cache).
    # A missing mandatory header raises SipParseError (Kamailio: get_from() etc. fail).

    @property
    def from_hdr(self):
        hf = self._first("from")
        if hf is None:
            raise SipParseError("no From header")
        p = hf.parsed
        if p is None:
            p = hf.parsed = parse_to_body(hf.value)
        return p

    @property
    def to_hdr(self):
        hf = self._first("to")
        if hf is None:
            raise SipParseError("no To header")
        p = hf.parsed
        if p is None:
            p = hf.parsed = parse_to_body(hf.value)
        return p

    @property
    def callid(self) -> str:
        hf = self._first("call-id")
        if hf is None:
            raise SipParseError("no Call-ID header")
        p = hf.parsed
        if p is None:
            p = hf.parsed = parse_callid(hf.value)
        return p

    @property
    def cseq(self):
        hf = self._first("cseq")
        if hf is None:
            raise SipParseError("no CSeq header")
        p = hf.parsed
        if p is None:
            s, e = self.raw_value_span(hf)  # as kamapy: folding kept
            p = hf.parsed = parse_cseq(self.text[s:e])
        return p

    def _vias_of(self, hf):
        p = hf.parsed
        if p is None:
            s, e = self.raw_value_span(hf)
            p = hf.parsed = parse_via(self.text, s, e)
        return p

    @property
    def via1(self):
        """The top Via (first via-parm of the first Via header)."""
        hf = self._first("via")
        if hf is None:
            raise SipParseError("no Via header")
        return self._vias_of(hf)[0]

    @property
    def via2(self):
        """The second Via, or None."""
        vias = self.vias
        return vias[1] if len(vias) > 1 else None

    @property
    def vias(self) -> list:
        """Every Via of every Via header, top first."""
        c = self._cache.get("vias")
        if c is None:
            hfs = self._all("via")
            if not hfs:
                raise SipParseError("no Via header")
            c = []
            for hf in hfs:
                c.extend(self._vias_of(hf))
            self._cache["vias"] = c
        return c

    @property
    def contacts(self):
        c = self._cache.get("contacts")
        if c is None:
            c = self._cache["contacts"] = parse_contacts(self._all("contact"))
        return c

    def nameaddr_list(self, name: str) -> list:
        """Every name-addr of every header called name (Route, Record-Route, Path ...)."""
        out = []
        for hf in self._all(header_key(name)):
            p = hf.parsed
            if p is None:
                p = hf.parsed = [parse_nameaddr(hf.value[s:e]) for s, e in split_commas(hf.value)]
            out.extend(p)
        return out

    @property
    def route_set(self) -> list:
        return self.nameaddr_list("route")

    @property
    def record_routes(self) -> list:
        return self.nameaddr_list("record-route")

    @property
    def paths(self) -> list:
        return self.nameaddr_list("path")

    @property
    def parsed_ruri(self):
        """The SipUri of current_uri (the rewritten R-URI if any)."""
        try:
            return self._cache["parsed_ruri"]
        except KeyError:
            if self.type != REQUEST:
                raise SipParseError("a reply has no R-URI") from None
            u = self._cache["parsed_ruri"] = parse_uri(self.current_uri)
            return u

    @property
    def parsed_orig_ruri(self):
        """The SipUri of the R-URI as received."""
        try:
            return self._cache["parsed_orig_ruri"]
        except KeyError:
            if self.type != REQUEST:
                raise SipParseError("a reply has no R-URI") from None
            u = self._cache["parsed_orig_ruri"] = parse_uri(self.ruri)
            return u

    def _simple(self, key, parse):
        hf = self._first(key)
        if hf is None:
            return None
        p = hf.parsed
        if p is None:
            p = hf.parsed = parse(hf.value)
        return p

    @property
    def content_length(self) -> int | None:
        """The Content-Length header's value; None when absent."""
        return self._simple("content-length", parse_content_length)

    @property
    def content_type(self):
        """MediaType of Content-Type; None when absent."""
        return self._simple("content-type", parse_content_type)

    @property
    def expires(self) -> int | None:
        return self._simple("expires", parse_expires)

    @property
    def max_forwards(self) -> int | None:
        return self._simple("max-forwards", parse_max_forwards)

    @property
    def event(self):
        return self._simple("event", parse_event)

    def tokens(self, name: str) -> list[str]:
        """Supported/Require/Allow/Proxy-Require ... as one token list."""
        return parse_token_list(hf.value for hf in self._all(header_key(name)))

    supported = property(lambda self: self.tokens("supported"))
    require = property(lambda self: self.tokens("require"))
    allow = property(lambda self: self.tokens("allow"))
    proxy_require = property(lambda self: self.tokens("proxy-require"))

    def credentials(self, name: str = "authorization") -> list:
        """Digest objects of every Authorization (or Proxy-Authorization,
        WWW-Authenticate, Proxy-Authenticate) header."""
        out = []
        for hf in self._all(header_key(name)):
            p = hf.parsed
            if p is None:
                p = hf.parsed = parse_digest(hf.value)
            out.append(p)
        return out

    @property
    def sdp(self):
        """The parsed SDP body (kamapy.sip.sdp.Sdp), or None when the body is not SDP."""
        c = self._cache.get("sdp", _MISSING)
        if c is _MISSING:
            c = None
            body = self.body
            if body:
                ct = self.content_type
                if ct is not None and ct.mime == "application/sdp":
                    c = parse_sdp(body)
            self._cache["sdp"] = c
        return c

    # ---------------------------------------------------------------- routing state
    @property
    def current_uri(self) -> str:
        """The R-URI the script sees now: the rewritten one if any ($ru)."""
        return self.new_uri if self.new_uri is not None else self.ruri

    def set_ruri(self, uri: str | None):
        """Rewrite the R-URI ($ru = ..., rewriteuri); None restores the received one."""
        self.new_uri = uri
        self._cache.pop("parsed_ruri", None)

    def cached(self, key, build):
        """Memoise a derived value (typed bodies, parsed URIs) for this message."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = build(self)
            return value

    def invalidate(self, key):
        self._cache.pop(key, None)
