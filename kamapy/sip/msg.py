"""A received SIP message: parsed lazily, changed through lumps, like Kamailio's sip_msg.

The bytes are decoded once as latin-1 (one char per byte, never fails, round-trips
exactly), so every offset into `text` is an offset into the wire bytes too.

What is parsed when:
  - construction: one C call (kamapy.sip.sipscan, kp_sipscan.c) reads the first line,
    indexes the header lines (integer spans, nothing made in Python) and checks the key
    fields Kamailio parses on receive (top Via, To, From, Call-ID, CSeq, Content-Length);
  - first header access: a HeaderField from the index's spans;
  - typed bodies (Via, From, URI, ...): on first use of that accessor, then cached --
    built from the scan's spans when the scan found the simple form, else by the
    Python parser (which gives the same object, or the SipParseError).
Malformed header lines raise only when a lookup needs that line (see _first).

SipMsg is the only reader of the scan: modules never index its array. They use
  - get_header / get_headers / header_value (HeaderField objects), the typed accessors
    (via1, vias, from_hdr, to_hdr, callid, cseq, contacts, route_set, ...), and
  - for hot paths, the named accessors that answer from the scan without making a
    HeaderField (Kamailio's msg->h.<name> and hdr_field: body and whole line):
    hdr_value(key), has_hdr(key), hdr_count(key), hdr_line(key), hdr_value_span(key),
    hdr_spans(key) (line, raw value span and "another follows" in one call),
    first_header_start, via1_branch, to_uri, cseq_num -- each exactly what the HeaderField call
    in its docstring gives, errors included (tests/sip/test_msg_accessors.py);
  - module_data: a dict per message for modules' own state ("<module>.<name>" keys;
    cached()/invalidate() memoise into it too).
tests/sip/test_scan_door.py fails when code outside kamapy/sip/ reads scan internals.

Besides the message itself it carries the routing state Kamailio keeps beside a
sip_msg: the new R-URI, the destination URI ($du), message flags, the branch-0
attributes (bflags, q, path, ...), the extra branches from append_branch(), and the
lumps that change the message when it is sent on.
"""

from __future__ import annotations

import struct

from . import sipscan as _ss
from .contact import parse_contacts
from .cseq import CSeq, parse_cseq
from .digest import parse_digest
from .errors import SipParseError
from .header_values import (
    parse_callid,
    parse_content_length,
    parse_content_type,
    parse_event,
    parse_expires,
    parse_max_forwards,
    parse_token_list,
)
from .headers import header_key, name_key
from .methods import METHOD_IDS as _METHOD_IDS
from .methods import METHOD_OTHER
from .nameaddr import parse_nameaddr, parse_to_body
from .scan import split_commas
from .sdp import parse_sdp
from .sipscan import nameaddr_from_scan, scan_tag, via_from_scan
from .sipscan import scan as _sipscan
from .uri import parse_uri
from .via import parse_via

_TYPE, _FLE, _NLEN, _BODY = _ss.TYPE, _ss.FLE, _ss.NL, _ss.BODY
_A1, _B0, _B1, _C0, _C1 = _ss.A1, _ss.B0, _ss.B1, _ss.C0, _ss.C1
if (_TYPE, _FLE, _NLEN, _ss.A0, _A1, _B0, _B1, _C0, _C1, _ss.NHDR, _ss.STOP, _BODY) != tuple(range(12)):
    raise ImportError("kamapy.sip.msg: the scan's first-line slots are not 0..11")  # pragma: no cover
_first_line = struct.Struct("=12i").unpack_from
_NHDR, _STOP, _FIRST, _HDR, _HREC = _ss.NHDR, _ss.STOP, _ss.FIRST, _ss.HDR, _ss.HREC
_STOP_END, _STOP_FOLD, _STOP_REASONS = _ss.STOP_END, _ss.STOP_FOLD, _ss.STOP_REASONS
_KEYS, _KEY_IDS = _ss.KEYS, _ss.KEY_IDS
_V_OK, _V_LINE, _V_BRANCH, _V_P = _ss.V_OK, _ss.V_LINE, _ss.V_BRANCH, _ss.V_P
_V_NEXT = _ss.V_NEXT
_TO_U0, _TO_U1, _TO_OK = _ss.TO + _ss.N_U0, _ss.TO + _ss.N_U1, _ss.TO_OK
_RAW_WS = " \t\r\n"  # what raw_value_span() trims
_FIRST_OF = {k: _ss.FIRST + i for k, i in _ss.KEY_IDS.items()}  # key -> its first-line slot
_SLOTS_OF: dict[tuple, tuple] = {}  # hdr_values: a tuple of keys -> their slots (-1: no scan id)
_TO, _FROM = _ss.TO, _ss.FROM
_CID_OK, _CS_OK, _CS_N0, _CS_N1, _CS_M0, _CS_M1 = (_ss.CID_OK, _ss.CS_OK, _ss.CS_N0, _ss.CS_N1,
                                                   _ss.CS_M0, _ss.CS_M1)
_CL_OK, _CL_VAL = _ss.CL_OK, _ss.CL_VAL
_N_OK, _N_LINE = _ss.N_OK, _ss.lib.KP_SS_N_LINE
_FIRST_CID, _FIRST_CSEQ, _FIRST_CL = _FIRST + _ss.H_CALLID, _FIRST + _ss.H_CSEQ, _FIRST + _ss.H_CL
_BADMIN, _EOH, _CLEAN = _ss.BADMIN, _ss.EOH, _ss.CLEAN
_MF_S, _MF_E = _ss.MF_S, _ss.MF_E
_FIRST_MF = _ss.FIRST + _ss.KEY_IDS["max-forwards"]
_V_LINE_TO, _V_LINE_FROM = _ss.TO + _ss.lib.KP_SS_N_LINE, _ss.FROM + _ss.lib.KP_SS_N_LINE
# Kamailio's parse_headers refuses a second header of these (strict parser mode, SIP only)
_DUP_KEYS = frozenset(("call-id", "to", "from", "cseq", "content-length", "max-forwards"))

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
        "module_data", "id", "_keys", "_nl", "_hf", "_sc", "_via1", "_fold_failed", "_parsed_at",
        "_starts", "_bad", "_eoh", "_csc",
        # routing state (Kamailio keeps these in sip_msg and the dset)
        "new_uri", "dst_uri", "force_send_socket", "flags", "ruri_bflags", "ruri_q",
        "path_vec", "instance", "ruid", "reg_id", "branches", "lumps", "reply_lumps", "reply_body",
        "xflags", "ctx", "avps", "xavps",
        # set_advertised_address() / set_advertised_port() for this message (None: unset)
        "advertised_address", "advertised_port",
        # set_forward_no_connect() & co: Kamailio's msg->fwd_send_flags / rpl_send_flags
        "fwd_send_flags", "rpl_send_flags",
        # after_script(): what runs once request_route has ended, for this request alone
        "script_end",
    )

    def __init__(self, data: bytes, rcv: RecvInfo | None = None, msg_id: int = 0):
        self.data = data
        self.text = text = data.decode("latin-1")
        # one C pass: first line, header line index, key fields (kamapy.sip.sipscan)
        self._sc = sc = _sipscan(data)
        # the scan again when every line it indexed reads as is (to the end of the block,
        # no refused-line suspect): the named accessors then answer from it directly
        self._csc = sc if sc[_CLEAN] else None  # kp_sipscan.h KP_SS_CLEAN
        self.rcv = rcv or RecvInfo()
        self.id = msg_id
        self._headers = None
        self._index = None
        self._keys = None
        self._hf = {}
        self._via1 = None
        self._parsed_at = None
        self._bad = None  # _bad_line(): not looked for yet
        self._eoh = -1
        self.module_data = {}
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
        self.reply_body = ""  # set_reply_body(): the body of the next local reply
        self.xflags = 0
        self.ctx = None  # per-message script context (kamapy.cfg), set by the runner
        self.avps = None   # {name: [values, newest first]}; tm carries them with the transaction
        self.xavps = None  # {name: [ {field: [values]} , ...]}
        self.advertised_address = None
        self.advertised_port = None
        self.fwd_send_flags = 0
        self.rpl_send_flags = 0
        self.script_end = None

        # the first line's slots in one read (a memoryview index costs a C call each)
        typ, fle, nl, _a0, a1, b0, b1, c0, c1, _nh, _st, body = _first_line(sc)
        self.first_line_end = fle
        self._nl = "\r\n" if nl == 2 else "\n"
        self.body_start = body
        if typ == REQUEST:
            self.type = REQUEST
            self.method = method = text[:a1]
            self.ruri = text[b0:b1]
            self.version = text[c0:c1]
            self.method_id = _METHOD_IDS.get(method, METHOD_OTHER)
            self.status = 0
            self.reason = None
        else:
            self.type = REPLY
            self.version = text[:a1]
            self.status = b0
            self.reason = text[c0:c1] if c0 >= 0 else ""
            self.method = None
            self.method_id = 0
            self.ruri = None

    def after_script(self, fn) -> None:
        """Run fn(msg) once request_route has ended for this request (receive_msg, after
        the POST_SCRIPT callbacks): a post-script callback armed only when a module has
        something to finish -- tm's delayed error reply, tmx's pre-transaction mark --
        so a request that armed nothing pays no call. Armed twice, it runs once."""
        armed = self.script_end
        if armed is None:
            self.script_end = [fn]
        elif fn not in armed:
            armed.append(fn)

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
    # The C scan indexed every header line it could (kamapy.sip.sipscan); HeaderField
    # objects are made on first access. Errors stay lazy, like Kamailio's
    # parse_headers(msg, flags): the scan stops at the first line it cannot index and a
    # lookup raises only when it needs a line at or past that point. A folded header
    # (rare) switches the message to an eager Python path that joins continuation lines
    # (then _sc is None and _keys/_hf/_index hold every line).
    # body_start is known (>= 0) once the whole block is readable: use `body`/`eoh`.

    def _past_scan(self, want):
        """A lookup went past the lines the scan indexed: None at the end of the block,
        re-index with folding joined, or raise the error that stopped the scan.
        Returns the line number of the first header of key `want`, or None."""
        sc = self._sc
        stop = sc[_STOP]
        if sc[_BADMIN] < sc[_NHDR]:
            # a refused line comes before where the scan stopped (for a fold: before
            # the folded line, whose value is not joined yet)
            bad = self._bad_line() if stop != _STOP_FOLD else self._find_bad(sc[_NHDR] - 1)
            if bad:
                raise SipParseError(bad[1])
        if stop == _STOP_END:
            return None
        if stop == _STOP_FOLD:
            return self._refold(want)
        raise SipParseError(_STOP_REASONS[stop])

    def _finish(self):
        """Make sure the whole header block is indexed (or raise why it cannot be)."""
        sc = self._sc
        if sc is not None:
            if sc[_STOP] != _STOP_END or sc[_BADMIN] < sc[_NHDR]:
                self._past_scan(None)
                if self._sc is None:
                    self._check_line(None)
        elif self.body_start < 0:  # a re-index that failed part way: fails again
            self._refold(None)
        else:
            self._check_line(None)

    # Kamailio's parse_headers reads the lines in order and stops for good at the first
    # one get_hdr_field or the duplicate rules refuse (a Via, the first To/CSeq/
    # Content-Length that does not parse; a second Call-ID/To/From/CSeq/Content-Length/
    # Max-Forwards). Every later read that reaches that line fails: a lookup of a header
    # whose first line is at or after it, or not present at all, and a full read (the
    # reply builder, headers, every header of a name). The scan marks where suspects
    # start (BADMIN); the exact line is found here, once, when a read gets that far.

    def _bad_line(self):
        """(line, reason) of the first header line parse_headers stops at, or False."""
        bad = self._bad
        if bad is None:
            bad = self._bad = self._find_bad()
        return bad

    def _check_line(self, i):
        """Raise when reading up to line i (None: the whole block) reaches a bad line."""
        bad = self._bad_line()
        if bad and (i is None or i >= bad[0]):
            raise SipParseError(bad[1])

    def _find_bad(self, end=None):
        sc = self._sc
        text = self.text
        sip = self.is_sip
        if sc is not None:
            lines = range(sc[_BADMIN], sc[_NHDR] if end is None else end)
            key_of = self._key_at
            hf_at = self._hf_at
            first = {}
            for key in ("via", "to", "cseq", "content-length"):
                first[key] = sc[_FIRST + _KEY_IDS[key]]
            ok_line = {}
            if sc[_V_OK]:
                ok_line["via"] = sc[_V_LINE]
            if sc[_TO + _N_OK]:
                ok_line["to"] = sc[_V_LINE_TO]
            if sc[_CS_OK]:
                ok_line["cseq"] = sc[_FIRST_CSEQ]
            if sc[_CL_OK]:
                ok_line["content-length"] = sc[_FIRST_CL]
        else:
            if self.body_start < 0:
                return False  # a re-index that failed part way: its lines stay as they are
            keys = self._keys
            lines = range(len(keys))
            key_of = keys.__getitem__
            hf_at = self._hf.__getitem__
            first = self._index
            ok_line = {}
        seen = set()
        for i in lines:
            key = key_of(i)
            if key in _DUP_KEYS and sip:
                if key in seen or (sc is not None and sc[_FIRST + _KEY_IDS[key]] != i):
                    return (i, f"duplicate {key} header")
                seen.add(key)
            if key != "via" and first.get(key) != i or ok_line.get(key) == i:
                continue
            try:
                if key == "via":
                    hf = hf_at(i)
                    if hf.parsed is None:
                        s, e = self.raw_value_span(hf)
                        hf.parsed = parse_via(text, s, e)
                elif key == "to":
                    hf = hf_at(i)
                    if hf.parsed is None:
                        hf.parsed = parse_to_body(hf.value)
                elif key == "cseq":
                    hf = hf_at(i)
                    if hf.parsed is None:
                        s, e = self.raw_value_span(hf)
                        hf.parsed = parse_cseq(text[s:e])
                elif key == "content-length":
                    hf = hf_at(i)
                    if hf.parsed is None:
                        hf.parsed = parse_content_length(hf.value)
            except SipParseError as e:
                return (i, e.reason)
        return False

    def _refold(self, want):
        """Re-index the whole block eagerly, joining folded lines (RFC 3261 §7.3.1).
        Each line ends at its own LF, with or without a CR before it."""
        text = self.text
        start = self.first_line_end + len(self._nl)
        # the lines up to the empty one (or the end of the datagram after a line break)
        lines = []
        pos = start
        end = len(text)
        eoh = -1
        while True:
            j = text.find("\n", pos)
            if j < 0:
                if pos == end and lines:
                    eoh = body = end  # no empty line: Kamailio ends the block with the datagram
                break
            e = j - 1 if j > pos and text[j - 1] == "\r" else j
            if e == pos:
                eoh, body = pos, j + 1
                break
            lines.append((pos, e, j + 1))
            pos = j + 1
        if eoh < 0:
            # the lines indexed so far stay readable as they are (Kamailio keeps the
            # headers parse_headers got through), the folded one included
            self._fold_failed = True
            raise SipParseError("no end of header block")
        # from here the index is rebuilt in place: an error part way leaves the lines
        # before it indexed and body_start -1 (each later miss re-runs this and fails)
        self._sc = self._csc = None
        self._bad = None
        self._index = index = {}
        self._keys = keys = []
        self._hf = hfs = {}
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
            hfs[i] = cur
            if key not in index:
                index[key] = i
        self._eoh = eoh
        self.body_start = body
        return index.get(want) if want is not None else None

    def _key_at(self, i) -> str:
        """The canonical key of scanned line i."""
        sc = self._sc
        r = _HDR + _HREC * i
        kid = sc[r]
        if kid:
            return _KEYS[kid]
        text = self.text
        start = sc[r + 1]
        raw = text[start:text.find(":", start)]
        return _NAME_KEYS.get(raw) or _new_name_key(raw)

    def _other_index(self) -> dict:
        """{key: first line} of the scanned lines whose name the scanner does not know."""
        index = self._index
        if index is None:
            index = self._index = {}
            sc = self._sc
            for i, kid in enumerate(sc[_HDR:_HDR + _HREC * sc[_NHDR]:_HREC]):
                if not kid:
                    key = self._key_at(i)
                    if key not in index:
                        index[key] = i
        return index

    def _hf_at(self, i) -> HeaderField:
        hf = self._hf.get(i)
        if hf is None:
            sc = self._sc
            r = _HDR + _HREC * i
            text = self.text
            start = sc[r + 1]
            kid = sc[r]
            hf = self._hf[i] = HeaderField(
                text[start:sc[r + 2]], _KEYS[kid] if kid else self._key_at(i),
                text[sc[r + 3]:sc[r + 4]], start, sc[r + 5])
            pa = self._parsed_at
            if pa is not None:
                hf.parsed = pa.pop(i, None)  # a key field already made from the scan
            if kid == 1 and self._via1 is not None and sc[_V_OK] and i == sc[_V_LINE] and sc[_V_NEXT] < 0:
                hf.parsed = [self._via1]  # the top Via made from the scan, alone on its line
        return hf

    def _first(self, key) -> HeaderField | None:
        """The first header of a canonical key (hot path of the typed accessors)."""
        sc = self._sc
        if sc is None:
            i = self._index.get(key)
            if i is None and self.body_start < 0:
                i = self._refold(key)  # re-index that failed part way: fails again
            self._check_line(i)
            return None if i is None else self._hf[i]
        kid = _KEY_IDS.get(key)
        i = sc[_FIRST + kid] if kid is not None else self._other_index().get(key, -1)
        if i < 0 or (i == sc[_NHDR] - 1 and sc[_STOP] == _STOP_FOLD
                     and not getattr(self, "_fold_failed", False)):
            i = self._past_scan(key)
            if self._sc is None:
                self._check_line(i)
                return None if i is None else self._hf[i]
            if i is None:
                return None
        elif i >= sc[_BADMIN]:
            self._check_line(i)
        hf = self._hf.get(i)
        return hf if hf is not None else self._hf_at(i)

    def _all(self, key) -> list[HeaderField]:
        self._finish()
        sc = self._sc
        if sc is None:
            hfs = self._hf
            return [hfs[i] for i, k in enumerate(self._keys) if k == key]
        kid = _KEY_IDS.get(key)
        hf_at = self._hf_at
        if kid is not None:
            out = []
            i = sc[_FIRST + kid]
            while i >= 0:
                out.append(hf_at(i))
                i = sc[_HDR + _HREC * i + 6]
            return out
        if key not in self._other_index():
            return []
        return [hf_at(i) for i, k in enumerate(sc[_HDR:_HDR + _HREC * sc[_NHDR]:_HREC])
                if not k and self._key_at(i) == key]

    def _build_index(self):
        """Index every header (kept for callers of the first contract: afterwards
        _keys[i] / _starts[i] are the key / start of line i and _hf_at(i) its field)."""
        self._finish()
        sc = self._sc
        if sc is not None and self._keys is None:
            n = sc[_NHDR]
            self._keys = [self._key_at(i) for i in range(n)]
            self._starts = sc[_HDR + 1:_HDR + _HREC * n:_HREC].tolist()
        elif sc is None:
            self._starts = [self._hf[i].start for i in range(len(self._keys))]

    @property
    def headers(self) -> list[HeaderField]:
        """Every header in received order."""
        if self._headers is None:
            self._finish()
            sc = self._sc
            if sc is None:
                hfs = self._hf
                self._headers = [hfs[i] for i in range(len(self._keys))]
            else:
                self._headers = [self._hf_at(i) for i in range(sc[_NHDR])]
        return self._headers

    def get_header(self, name: str) -> HeaderField | None:
        """The first header of a name (any case, compact or full), or None."""
        return self._first(header_key(name))

    def get_headers(self, name: str) -> list[HeaderField]:
        """Every header of a name, in order (each line one entry; not split on commas)."""
        return self._all(header_key(name))

    def header_value(self, name: str) -> str | None:
        """get_header(name).value, or None: hdr_value of the canonical name (from the scan
        when it indexed the line cleanly, no HeaderField made)."""
        return self.hdr_value(header_key(name))

    # ---------------------------------------------------------------- named header access
    # What the hot paths of modules need from a header without making its HeaderField
    # (Kamailio's msg->h.<name>: the first header of a type, its body and its line).
    # Each gives exactly what the HeaderField-based call named in its docstring gives,
    # errors included; they read the C scan directly when it indexed the line cleanly
    # and fall back to that call otherwise. `key` is a header name: the canonical key
    # (lowercase full name, "max-forwards") is the fast one, any spelling works.

    # The fast branch of each is inlined (no helper call): _csc is the scan when every
    # line of it reads as is, _FIRST_OF the offset of a known key's first-line slot.

    def hdr_value(self, key: str) -> str | None:
        """get_header(key).value (folding joined, outer whitespace stripped), or None."""
        sc = self._csc
        if sc is not None:
            try:
                i = sc[_FIRST_OF[key]]
            except KeyError:  # a name the scanner does not know (or not canonical)
                pass
            else:
                if i < 0:
                    return None
                r = _HDR + _HREC * i
                return self.text[sc[r + 3]:sc[r + 4]]
        hf = self._first(header_key(key))
        return None if hf is None else hf.value

    def hdr_values(self, keys) -> list:
        """[hdr_value(k) for k in keys] in one call: a hot path that reads several
        headers of the message (registrar's refresh) pays one call, not one each."""
        sc = self._csc
        slots = _SLOTS_OF.get(keys) if keys.__class__ is tuple else None
        if slots is None:
            if sc is None or keys.__class__ is not tuple:
                return [self.hdr_value(k) for k in keys]
            slots = _SLOTS_OF[keys] = tuple(_FIRST_OF.get(k, -1) for k in keys)
        if sc is None or -1 in slots:
            return [self.hdr_value(k) for k in keys]
        text = self.text
        out = []
        for slot in slots:
            i = sc[slot]
            if i < 0:
                out.append(None)
            else:
                i = _HDR + _HREC * i + 3
                out.append(text[sc[i]:sc[i + 1]])
        return out

    @property
    def clean_scan(self) -> bytes | None:
        """The C scan (kamapy.sip.sipscan's int32 array, as bytes) when every line it
        indexed reads as is -- the named accessors answer from it -- for C code that
        reads the message itself (registrar's quick refresh); else None."""
        sc = self._csc
        if sc is None:
            return None
        scan = sc.obj
        return scan if scan.__class__ is bytes else None

    def has_hdr(self, key: str) -> bool:
        """get_header(key) is not None."""
        sc = self._csc
        if sc is not None:
            try:
                return sc[_FIRST_OF[key]] >= 0
            except KeyError:
                pass
        return self._first(header_key(key)) is not None

    def hdr_line(self, key: str) -> tuple[int, int] | None:
        """(start, end) of the first header's whole line(s) in text, line break included
        (HeaderField.start/.end: what a lump deleting the header removes), or None."""
        sc = self._csc
        if sc is not None:
            try:
                i = sc[_FIRST_OF[key]]
            except KeyError:
                pass
            else:
                if i < 0:
                    return None
                r = _HDR + _HREC * i
                return sc[r + 1], sc[r + 5]
        hf = self._first(header_key(key))
        return None if hf is None else (hf.start, hf.end)

    def hdr_spans(self, key: str) -> tuple[int, int, int, int, bool] | None:
        """The first header of a name in one call (a hot path's whole hdr_field):
        (start, value_start, value_end, end, more) = hdr_line(key) around
        hdr_value_span(key), and `more`: hdr_count(key) would not say 1 (another line
        of that name follows, or reading them all fails -- which does not fail this
        call: the first line reads as get_header's does); None when absent."""
        sc = self._csc
        if sc is not None:
            try:
                i = sc[_FIRST_OF[key]]
            except KeyError:
                pass
            else:
                if i < 0:
                    return None
                r = _HDR + _HREC * i
                text = self.text
                s = sc[r + 3]
                e = sc[r + 4]
                le = sc[r + 5]
                c = text[s - 1]
                if s == e or not (c == ":" or c == " " and text[s - 2] == ":") or text[le - 1] != "\n" \
                        or not (e + 1 == le or e + 2 == le and text[e] == "\r"):
                    s, e = self._raw_span(sc[r + 1], le)
                return sc[r + 1], s, e, le, sc[r + 6] >= 0
        hf = self._first(header_key(key))
        if hf is None:
            return None
        s, e = self.raw_value_span(hf)
        try:
            more = self.hdr_count(key) != 1
        except SipParseError:
            more = True
        return hf.start, s, e, hf.end, more

    def _raw_span(self, start, end):
        """raw_value_span() of the header line text[start:end]."""
        text = self.text
        s = text.find(":", start) + 1
        while end > s and text[end - 1] in _RAW_WS:
            end -= 1
        while s < end and text[s] in _RAW_WS:
            s += 1
        return s, end

    def hdr_value_span(self, key: str) -> tuple[int, int] | None:
        """raw_value_span(get_header(key)): the body as received, trimmed of
        " \\t\\r\\n" only (what a lump rewriting the value in place replaces), or None."""
        sc = self._csc
        if sc is not None:
            try:
                i = sc[_FIRST_OF[key]]
            except KeyError:
                pass
            else:
                if i < 0:
                    return None
                r = _HDR + _HREC * i
                text = self.text
                # the scan's value span is trimmed of every str.strip() space, this one of
                # " \t\r\n" only (a \v or \x85 next to the value stays): the same span
                # when only ": " and the line break are around the value, else recomputed
                s = sc[r + 3]
                e = sc[r + 4]
                le = sc[r + 5]
                c = text[s - 1]
                if s == e or not (c == ":" or c == " " and text[s - 2] == ":") or text[le - 1] != "\n" \
                        or not (e + 1 == le or e + 2 == le and text[e] == "\r"):
                    s, e = self._raw_span(sc[r + 1], le)
                return s, e
        hf = self._first(header_key(key))
        return None if hf is None else self.raw_value_span(hf)

    def maxfwd_digits(self):
        """The first Max-Forwards as (value, hdr_value_span) when its value is 1 to 5 ASCII
        digits written as received (the C scan checked it: kp_sipscan.h KP_SS_MF_S);
        None when the message has no Max-Forwards; False when the general reading
        (hdr_value_span, then the digits) has to decide."""
        sc = self._csc
        if sc is None:
            return False
        s = sc[_MF_S]
        if s >= 0:
            e = sc[_MF_E]
            return int(self.text[s:e]), (s, e)
        return None if sc[_FIRST_MF] < 0 else False

    def hdr_count(self, key: str) -> int:
        """len(get_headers(key)): how many header lines of that name."""
        sc = self._csc
        if sc is not None:
            try:
                i = sc[_FIRST_OF[key]]
            except KeyError:
                pass
            else:
                n = 0
                while i >= 0:
                    n += 1
                    i = sc[_HDR + _HREC * i + 6]
                return n
        return len(self._all(header_key(key)))

    @property
    def first_header_start(self) -> int:
        """headers[0].start, or eoh when there is no header: where record_route and
        the insert-above-the-first-header lumps anchor. Read from the scan when it
        reached the end of the block, so a line further down that parse_headers
        refuses does not fail it (nothing else is read to place the lump)."""
        sc = self._sc
        if sc is not None and sc[_NHDR] > 0 and sc[_STOP] == _STOP_END:
            return sc[_HDR + 1]
        hdrs = self.headers
        return hdrs[0].start if hdrs else self.eoh

    @property
    def via1_branch(self) -> str | None:
        """via1.branch (None when absent, '' for a bare ;branch flag), without building the Via."""
        v = self._via1
        if v is None:
            sc = self._csc
            if sc is not None and sc[_V_OK]:
                i = sc[_V_BRANCH]
                if i < 0:
                    return None
                k = _V_P + 4 * i
                vs = sc[k + 2]
                return "" if vs < 0 else self.text[vs:sc[k + 3]]
            v = self.via1
        return v.branch

    @property
    def to_tag(self) -> str | None:
        """to_hdr.tag, without building the NameAddr when the scan parsed the To."""
        sc = self._csc
        if sc is not None and sc[_TO_OK]:
            return scan_tag(self.text, sc, _TO)
        return self.to_hdr.tag

    @property
    def from_tag(self) -> str | None:
        """from_hdr.tag, without building the NameAddr when the scan parsed the From."""
        sc = self._csc
        if sc is not None and sc[_FROM + _N_OK]:
            return scan_tag(self.text, sc, _FROM)
        return self.from_hdr.tag

    @property
    def to_uri(self) -> str:
        """to_hdr.uri, without building the NameAddr when the scan parsed the To."""
        sc = self._csc
        if sc is not None and sc[_TO_OK]:
            return self.text[sc[_TO_U0]:sc[_TO_U1]]
        return self.to_hdr.uri

    @property
    def cseq_num(self) -> int | None:
        """cseq.num (the number as an int, None when not digits), without building the
        CSeq when the scan parsed it."""
        sc = self._csc
        if sc is not None and sc[_CS_OK]:
            return int(self.text[sc[_CS_N0]:sc[_CS_N1]])
        return self.cseq.num

    def _framing(self):
        """Find where the header block ends (body_start), or raise why it cannot be
        found. Only the framing: a line parse_headers refuses does not hide the body."""
        sc = self._sc
        if sc is None or sc[_STOP] == _STOP_FOLD:
            self._refold(None)
        elif sc[_STOP] != _STOP_END:
            raise SipParseError(_STOP_REASONS[sc[_STOP]])

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
        sc = self._sc
        return sc[_EOH] if sc is not None else self._eoh

    @property
    def nl(self) -> str:
        """The line end the message uses ("\\r\\n", or "\\n" for a lax sender)."""
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
    # Each accessor parses on first use and caches (on the HeaderField or in module_data).
    # A missing mandatory header raises SipParseError (Kamailio: get_from() etc. fail).

    # The key fields the scan parsed (its OK flags) are built from its spans without a
    # HeaderField: kept in _parsed_at {line: object} until that line's HeaderField is
    # made, which then gets it as .parsed (so hf.parsed and the accessor stay one).

    def _put_parsed(self, i, p):
        hf = self._hf.get(i)
        if hf is not None:
            if hf.parsed is None:
                hf.parsed = p
            return hf.parsed
        pa = self._parsed_at
        if pa is None:
            self._parsed_at = {i: p}
        else:
            pa[i] = p
        return p

    def _parsed_line(self, i):
        """The typed object already made for scanned line i, or None."""
        hf = self._hf.get(i)
        if hf is not None:
            return hf.parsed
        pa = self._parsed_at
        return pa.get(i) if pa is not None else None

    def _nameaddr(self, key, base, what):
        sc = self._sc
        if sc is not None and sc[base + _N_OK]:
            i = sc[base + _N_LINE]
            if i >= sc[_BADMIN]:
                self._check_line(i)
            pa = self._parsed_at
            p = pa.get(i) if pa is not None else None
            if p is None:
                hf = self._hf.get(i)
                if hf is not None and hf.parsed is not None:
                    return hf.parsed
                r = _HDR + _HREC * i
                text = self.text
                p = nameaddr_from_scan(text, sc, base, text[sc[r + 3]:sc[r + 4]])
                if hf is not None:
                    hf.parsed = p
                elif pa is None:
                    self._parsed_at = {i: p}
                else:
                    pa[i] = p
            return p
        hf = self._first(key)
        if hf is None:
            raise SipParseError(what)
        p = hf.parsed
        if p is None:
            p = hf.parsed = parse_to_body(hf.value)
        return p

    @property
    def from_hdr(self):
        return self._nameaddr("from", _FROM, "no From header")

    @property
    def to_hdr(self):
        return self._nameaddr("to", _TO, "no To header")

    @property
    def callid(self) -> str:
        sc = self._sc
        if sc is not None and sc[_CID_OK]:
            i = sc[_FIRST_CID]
            if i >= sc[_BADMIN]:
                self._check_line(i)
            hf = self._hf.get(i)
            if hf is not None and hf.parsed is not None:
                return hf.parsed
            r = _HDR + _HREC * i
            p = self.text[sc[r + 3]:sc[r + 4]]  # a str: no need to keep it
            if hf is not None:
                hf.parsed = p
            return p
        hf = self._first("call-id")
        if hf is None:
            raise SipParseError("no Call-ID header")
        p = hf.parsed
        if p is None:
            p = hf.parsed = parse_callid(hf.value)
        return p

    @property
    def cseq(self):
        sc = self._sc
        if sc is not None and sc[_CS_OK]:
            i = sc[_FIRST_CSEQ]
            if i >= sc[_BADMIN]:
                self._check_line(i)
            pa = self._parsed_at
            p = pa.get(i) if pa is not None else None
            if p is None:
                hf = self._hf.get(i)
                if hf is not None and hf.parsed is not None:
                    return hf.parsed
                text = self.text
                number = text[sc[_CS_N0]:sc[_CS_N1]]
                p = CSeq(int(number), number, text[sc[_CS_M0]:sc[_CS_M1]])
                if hf is not None:
                    hf.parsed = p
                elif pa is None:
                    self._parsed_at = {i: p}
                else:
                    pa[i] = p
            return p
        hf = self._first("cseq")
        if hf is None:
            raise SipParseError("no CSeq header")
        p = hf.parsed
        if p is None:
            s, e = self.raw_value_span(hf)  # folding kept: Kamailio refuses a fold inside
            p = hf.parsed = parse_cseq(self.text[s:e])
        return p

    def _vias_of(self, hf):
        """The via-parms of one Via header (hf.parsed); the top Via is msg.via1 itself."""
        p = hf.parsed
        if p is None:
            sc = self._sc
            if sc is not None and sc[_V_OK] and hf.start == sc[_HDR + _HREC * sc[_V_LINE] + 1]:
                if sc[_V_NEXT] < 0:
                    self.via1  # noqa: B018 -- sets hf.parsed to [the top Via]
                    p = hf.parsed
                else:  # several on the line: the top one from the scan, the rest parsed
                    s, e = self.raw_value_span(hf)
                    p = parse_via(self.text, sc[_V_NEXT], e)
                    p.insert(0, self.via1)
                    hf.parsed = p
            else:
                s, e = self.raw_value_span(hf)
                p = hf.parsed = parse_via(self.text, s, e)
        return p

    @property
    def via1(self):
        """The top Via (first via-parm of the first Via header)."""
        v = self._via1
        if v is None:
            sc = self._sc
            if sc is not None and sc[_V_OK]:
                if sc[_V_LINE] >= sc[_BADMIN]:
                    self._check_line(sc[_V_LINE])
                # its HeaderField, when made, gets [this Via] as .parsed (_hf_at)
                hf = self._hf.get(sc[_V_LINE])
                if hf is not None and hf.parsed is not None:
                    v = self._via1 = hf.parsed[0]
                else:
                    v = self._via1 = via_from_scan(self.text, sc)
                    if hf is not None and sc[_V_NEXT] < 0:
                        hf.parsed = [v]
            else:
                hf = self._first("via")
                if hf is None:
                    raise SipParseError("no Via header")
                v = self._via1 = self._vias_of(hf)[0]
        return v

    @property
    def via2(self):
        """The second Via, or None."""
        vias = self.vias
        return vias[1] if len(vias) > 1 else None

    @property
    def vias(self) -> list:
        """Every Via of every Via header, top first."""
        c = self.module_data.get("vias")
        if c is None:
            hfs = self._all("via")
            if not hfs:
                raise SipParseError("no Via header")
            c = []
            for hf in hfs:
                c.extend(self._vias_of(hf))
            self.module_data["vias"] = c
        return c

    @property
    def contacts(self):
        c = self.module_data.get("contacts")
        if c is None:
            c = self.module_data["contacts"] = parse_contacts(self._all("contact"))
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
            return self.module_data["parsed_ruri"]
        except KeyError:
            if self.type != REQUEST:
                raise SipParseError("a reply has no R-URI") from None
            u = self.module_data["parsed_ruri"] = parse_uri(self.current_uri)
            return u

    @property
    def parsed_orig_ruri(self):
        """The SipUri of the R-URI as received."""
        try:
            return self.module_data["parsed_orig_ruri"]
        except KeyError:
            if self.type != REQUEST:
                raise SipParseError("a reply has no R-URI") from None
            u = self.module_data["parsed_orig_ruri"] = parse_uri(self.ruri)
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
        sc = self._sc
        if sc is not None and sc[_CL_OK]:
            i = sc[_FIRST_CL]
            if i >= sc[_BADMIN]:
                self._check_line(i)
            p = self._parsed_line(i)
            return p if p is not None else self._put_parsed(i, sc[_CL_VAL])
        hf = self._first("content-length")
        if hf is None:
            return None
        p = hf.parsed
        if p is None:
            sc = self._sc
            p = hf.parsed = sc[_CL_VAL] if sc is not None and sc[_CL_OK] else \
                parse_content_length(hf.value)
        return p

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
        c = self.module_data.get("sdp", _MISSING)
        if c is _MISSING:
            c = None
            body = self.body
            if body:
                ct = self.content_type
                if ct is not None and ct.mime == "application/sdp":
                    c = parse_sdp(body)
            self.module_data["sdp"] = c
        return c

    # ---------------------------------------------------------------- routing state
    @property
    def current_uri(self) -> str:
        """The R-URI the script sees now: the rewritten one if any ($ru)."""
        return self.new_uri if self.new_uri is not None else self.ruri

    def set_ruri(self, uri: str | None):
        """Rewrite the R-URI ($ru = ..., rewriteuri); None restores the received one."""
        self.new_uri = uri
        self.module_data.pop("parsed_ruri", None)

    def cached(self, key, build):
        """Memoise a derived value (typed bodies, parsed URIs) for this message."""
        try:
            return self.module_data[key]
        except KeyError:
            value = self.module_data[key] = build(self)
            return value

    def invalidate(self, key):
        self.module_data.pop(key, None)
