"""A received SIP message: parsed lazily, changed through lumps, like Kamailio's sip_msg.

The bytes are decoded once as latin-1 (one char per byte, never fails, round-trips
exactly), so every offset into `text` is an offset into the wire bytes too.

What is parsed when:
  - construction: the first line only (method / R-URI / status), cheap;
  - first header access: the header index (one split of the header block);
  - typed bodies (Via, From, URI, ...): on first use of that accessor, then cached.

Besides the message itself it carries the routing state Kamailio keeps beside a
sip_msg: the new R-URI, the destination URI ($du), message flags, the branch-0
attributes (bflags, q, path, ...), the extra branches from append_branch(), and the
lumps that change the message when it is sent on.
"""

from __future__ import annotations

from .errors import SipParseError
from .headers import header_key
from .methods import method_id

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
        "_cache", "id",
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
            if len(parts) != 3 or not parts[2].startswith("SIP/"):
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
    def first_line(self) -> str:
        return self.text[: self.first_line_end]

    # ---------------------------------------------------------------- headers
    def _build_index(self):
        text = self.text
        start = self.first_line_end
        crlf = text.startswith("\r\n", start)
        nl = "\r\n" if crlf else "\n"
        start += len(nl)
        end = text.find(nl + nl, start - len(nl))
        if end < 0:
            raise SipParseError("no end of header block")
        self.body_start = end + 2 * len(nl)
        headers = []
        index = {}
        if end > start:
            pos = start
            lines = text[start:end].split(nl)
            step = len(nl)
            cur = None
            for line in lines:
                if line and line[0] in " \t":  # folded continuation (RFC 3261 §7.3.1)
                    if cur is None:
                        raise SipParseError("folded line before first header")
                    cur.value = (cur.value + " " + line.strip()).strip()
                    pos += len(line) + step
                    cur.end = pos
                    continue
                colon = line.find(":")
                if colon <= 0:
                    raise SipParseError("header without colon")
                name = line[:colon].rstrip()
                if not name or " " in name or "\t" in name:
                    raise SipParseError("bad header name")
                key = header_key(name)
                end_pos = pos + len(line) + step
                cur = HeaderField(name, key, line[colon + 1:].strip(), pos, end_pos)
                pos = end_pos
                headers.append(cur)
                lst = index.get(key)
                if lst is None:
                    index[key] = [cur]
                else:
                    lst.append(cur)
        self._headers = headers
        self._index = index

    @property
    def headers(self) -> list[HeaderField]:
        """Every header in received order."""
        if self._headers is None:
            self._build_index()
        return self._headers

    def get_header(self, name: str) -> HeaderField | None:
        """The first header of a name (any case, compact or full), or None."""
        if self._index is None:
            self._build_index()
        lst = self._index.get(header_key(name))
        return lst[0] if lst else None

    def get_headers(self, name: str) -> list[HeaderField]:
        """Every header of a name, in order (each line one entry; not split on commas)."""
        if self._index is None:
            self._build_index()
        return self._index.get(header_key(name), [])

    def header_value(self, name: str) -> str | None:
        h = self.get_header(name)
        return h.value if h is not None else None

    @property
    def body(self) -> str:
        if self._index is None:
            self._build_index()
        return self.text[self.body_start:]

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
