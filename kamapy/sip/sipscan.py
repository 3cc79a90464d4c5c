"""The C SIP tokenizer (kamapy/_native/kp_sipscan.c) as the message layer reads it.

scan(data) makes ONE C call over the datagram (kp_fastcall.c: no cffi wrapper) and
returns a memoryview of int32s (a private copy of the thread's buffer): the first line, every
header line (id, name/value spans, line end, next line of the same id), the first line
of each known header, and the key fields of the first Via/To/From/Call-ID/CSeq/
Content-Length, each with an OK flag that is set only when the Python parser would give
exactly the same result. The offsets are the KP_SS_* constants of kp_sipscan.h, read
from the compiled module so the two sides cannot drift.

Objects (Via, NameAddr) are built from the offsets only when an accessor asks.
"""

from __future__ import annotations

import struct
from _thread import get_ident as _get_ident

from kamapy._native import fastcall
from kamapy._native._kamapy_native import ffi, lib

from . import via as _via_module
from .errors import SipParseError
from .nameaddr import NameAddr
from .via import Via

# header ids (kp_sipscan.h enum, same order): index -> canonical key
KEYS = (
    "", "via", "from", "to", "call-id", "cseq", "content-length", "contact",
    "max-forwards", "route", "record-route", "content-type", "expires", "authorization",
    "proxy-authorization", "www-authenticate", "proxy-authenticate", "allow", "supported",
    "require", "proxy-require", "unsupported", "user-agent", "server", "event", "subject",
    "path", "accept", "content-encoding", "allow-events", "referred-by", "refer-to",
    "session-expires", "identity", "identity-info", "accept-contact", "reject-contact",
    "request-disposition", "min-expires", "p-asserted-identity", "p-preferred-identity",
    "diversion", "privacy", "date", "subscription-state", "rseq", "rack", "service-route",
    "min-se", "accept-language", "accept-encoding", "content-disposition", "organization",
    "timestamp", "retry-after", "warning", "reason", "sip-if-match",
)
if len(KEYS) != lib.KP_H_COUNT_:  # pragma: no cover -- a build out of step with this file
    raise ImportError("kamapy.sip.sipscan: KEYS does not match kp_sipscan.h")
KEY_IDS = {k: i for i, k in enumerate(KEYS) if i}
H_VIA, H_FROM, H_TO, H_CALLID, H_CSEQ, H_CL = 1, 2, 3, 4, 5, 6
H_RECORD_ROUTE = KEYS.index("record-route")

TYPE = lib.KP_SS_TYPE
FLE = lib.KP_SS_FLE
NL = lib.KP_SS_NL
A0, A1, B0, B1, C0, C1 = lib.KP_SS_A0, lib.KP_SS_A1, lib.KP_SS_B0, lib.KP_SS_B1, lib.KP_SS_C0, lib.KP_SS_C1
NHDR = lib.KP_SS_NHDR
STOP = lib.KP_SS_STOP
BODY = lib.KP_SS_BODY
FIRST = lib.KP_SS_FIRST
STOP_END = lib.KP_SS_STOP_END
STOP_FOLD = lib.KP_SS_STOP_FOLD
STOP_REASONS = {
    lib.KP_SS_STOP_NOEOH: "no end of header block",
    lib.KP_SS_STOP_NOCOLON: "header without colon",
    lib.KP_SS_STOP_BADNAME: "bad header name",
}
SEG_N = lib.KP_SS_SEG_N
SEG = lib.KP_SS_SEG
HDR = lib.KP_SS_HDR
HREC = lib.KP_SS_HREC

V_OK, V_S, V_E = lib.KP_SS_V_OK, lib.KP_SS_V_S, lib.KP_SS_V_E
V_T0, V_T1, V_H0, V_H1 = lib.KP_SS_V_T0, lib.KP_SS_V_T1, lib.KP_SS_V_H0, lib.KP_SS_V_H1
V_PORT, V_P0, V_P1, V_SBE = lib.KP_SS_V_PORT, lib.KP_SS_V_P0, lib.KP_SS_V_P1, lib.KP_SS_V_SBE
V_BRANCH, V_RPORT, V_RECEIVED = lib.KP_SS_V_BRANCH, lib.KP_SS_V_RPORT, lib.KP_SS_V_RECEIVED
V_LINE, V_NP, V_P = lib.KP_SS_V_LINE, lib.KP_SS_V_NP, lib.KP_SS_V_P
V_NEXT = lib.KP_SS_V_NEXT  # the second via-parm on the top Via line, -1: none

TO = lib.KP_SS_TO
FROM = lib.KP_SS_FROM
N_OK, N_D0, N_D1, N_U0, N_U1 = lib.KP_SS_N_OK, lib.KP_SS_N_D0, lib.KP_SS_N_D1, lib.KP_SS_N_U0, lib.KP_SS_N_U1
N_BR, N_TAG, N_NP, N_P = lib.KP_SS_N_BR, lib.KP_SS_N_TAG, lib.KP_SS_N_NP, lib.KP_SS_N_P
TO_OK = TO + N_OK
TO_TAG = TO + N_TAG

CID_OK = lib.KP_SS_CID_OK
CS_OK, CS_N0, CS_N1, CS_M0, CS_M1 = (lib.KP_SS_CS_OK, lib.KP_SS_CS_N0, lib.KP_SS_CS_N1,
                                     lib.KP_SS_CS_M0, lib.KP_SS_CS_M1)
CL_OK, CL_VAL = lib.KP_SS_CL_OK, lib.KP_SS_CL_VAL
CRC_OK, CRC1, CRC2 = lib.KP_SS_CRC_OK, lib.KP_SS_CRC1, lib.KP_SS_CRC2
EOH, BADMIN = lib.KP_SS_EOH, lib.KP_SS_BADMIN
RECV_OK, CLEAN = lib.KP_SS_RECV_OK, lib.KP_SS_CLEAN  # the scan's verdicts (kp_sipscan.h)
MF_S, MF_E = lib.KP_SS_MF_S, lib.KP_SS_MF_E  # a plain Max-Forwards value's span

_FIRST_LINE_ERRORS = {
    lib.KP_SS_ENOFL: "no end of first line",
    lib.KP_SS_EBADSTATUS: "bad status line",
    lib.KP_SS_EBADREQ: "bad request line",
}

_scan = fastcall.scan  # kp_sip_scan through kp_fastcall.c: its own per-thread buffer
_crc16 = lib.kp_crc16
_OWNER = _get_ident()  # via_parm's buffer is this thread's


def scan(data: bytes) -> memoryview:
    """The scan of a datagram (see the module text); raises SipParseError for a first
    line Kamailio's parse_first_line would refuse."""
    if type(data) is not bytes:
        data = bytes(data)
    out = _scan(data)
    if out.__class__ is int:
        raise SipParseError(_FIRST_LINE_ERRORS[out])
    return memoryview(out).cast("i")


def crc16(data: bytes) -> int:
    """CRC-16 as Kamailio's crcitt_string_array computes it."""
    return _crc16(data, len(data))


def via_from_scan(text: str, sc) -> Via:
    """The top Via from the scan (only when sc[V_OK]): a memoryview of the scan, or of a
    via-parm scan (via_parm). Its slots are read with one struct unpack per block (a
    memoryview index costs a C call each)."""
    (_ok, s, e, t0, t1, h0, h1, port, p0, p1, sbe, _br, _rp, _rc, _ln, np) = _via_slots(sc, _V_AT)
    v = Via()
    v.protocol = "SIP/2.0"
    v.transport = text[t0:t1].upper()
    v.host = text[h0:h1]
    if port < 0:
        v.port_str = ""
        v.port = None
    else:
        v.port_str = text[p0:p1]
        v.port = port
    v.start = s
    v.end = e
    v.sent_by_end = sbe
    v.text = text[s:e]
    if np:
        params = v.params
        spans = v.param_spans
        p = _PARAM_SLOTS[np](sc, _VP_AT)
        for k in range(0, 4 * np, 4):
            ps = p[k]
            vs = p[k + 2]
            pe = p[k + 3]
            params.append((text[ps:p[k + 1]], None if vs < 0 else text[vs:pe]))
            spans.append((ps, pe))
    return v


# via_from_scan's blocks: V_OK..V_NP (16 slots), then np via-params of 4 slots each
if (V_OK, V_S, V_E, V_T0, V_T1, V_H0, V_H1, V_PORT, V_P0, V_P1, V_SBE, V_BRANCH, V_RPORT, V_RECEIVED,
        V_LINE, V_NP, V_P) != tuple(range(V_OK, V_OK + 17)):  # pragma: no cover
    raise ImportError("kamapy.sip.sipscan: the Via slots are not contiguous")
_via_slots = struct.Struct("=16i").unpack_from
_V_AT = 4 * V_OK
_VP_AT = 4 * V_P
_PARAM_SLOTS = [struct.Struct(f"={4 * n}i").unpack_from for n in range(lib.KP_SS_MAXP + 1)]


_parm_out = ffi.new("int32_t[]", V_P + 4 * lib.KP_SS_MAXP)
_parm_view = memoryview(ffi.buffer(_parm_out)).cast("i")  # via_from_scan reads it as a scan
_scan_via_parm = lib.kp_scan_via_parm


def via_parm(data: bytes, text: str, s: int, e: int) -> Via | None:
    """One via-parm text[s:e] (trimmed; data is text as latin-1 bytes) read by the C
    fast path, or None when it is not in the simple form the fast path takes (the
    Python parser then gives the Via or the error). For the Vias after the first."""
    if _get_ident() != _OWNER:
        out = ffi.new("int32_t[]", V_P + 4 * lib.KP_SS_MAXP)
        view = memoryview(ffi.buffer(out)).cast("i")
    else:
        out = _parm_out
        view = _parm_view
    if not _scan_via_parm(data, s, e, out):
        return None
    return via_from_scan(text, view)


def nameaddr_from_scan(text: str, sc, base: int, whole: str) -> NameAddr:
    """The To (base TO) or From (base FROM) name-addr from the scan (only when OK)."""
    _ok, d0, d1, u0, u1, br, _tag, _line, np = _na_slots(sc, 4 * base)
    params = []
    if np:
        p = _PARAM_SLOTS[np](sc, 4 * (base + N_P))
        for k in range(0, 4 * np, 4):
            vs = p[k + 2]
            params.append((text[p[k]:p[k + 1]], None if vs < 0 else text[vs:p[k + 3]]))
    return NameAddr(whole, text[d0:d1] if d0 >= 0 else "", text[u0:u1], params, br == 1)


# nameaddr_from_scan's block: N_OK..N_NP (9 slots) from the To's or the From's base
if (N_OK, N_D0, N_D1, N_U0, N_U1, N_BR, N_TAG, lib.KP_SS_N_LINE, N_NP, N_P) != tuple(range(10)):  # pragma: no cover
    raise ImportError("kamapy.sip.sipscan: the name-addr slots are not contiguous")
_na_slots = struct.Struct("=9i").unpack_from


def scan_to_tag(text: str, sc):
    """NameAddr.tag of the first To, from the scan (only when sc[TO_OK])."""
    return scan_tag(text, sc, TO)


def scan_tag(text: str, sc, base: int):
    """NameAddr.tag of the first To (base TO) or From (base FROM), from the scan (only
    when that one is OK)."""
    i = sc[base + N_TAG]
    if i < 0:
        return None
    k = base + N_P + 4 * i
    vs = sc[k + 2]
    return None if vs < 0 else text[vs:sc[k + 3]]


# parse_via (kamapy.sip.via, which this module imports) reads further via-parms with it
_via_module._fast_parm = via_parm
