"""What the hot paths pay to read a header: SipMsg's named accessors against the raw
reads of the C scan's array that modules did before (issue 12).

    .venv/bin/python bench/msg_access_bench.py [iterations]

Each row times one job two ways on the same real message, in ns per job (best of nine
alternating runs of `iterations`, default 50k): "offsets" is the code the module had (msg._sc read
by position, copied here verbatim apart from names), "api" what it does now. The jobs:

  maxfwd     mf_process_maxfwd_header(10) on a fresh INVITE (SipMsg made in the loop
             for both columns; the message construction alone is given as a baseline)
  rr-route   the Route reads of loose_route's fast path (one line? its value, its line)
  rr-anchor  where record_route puts its header (the first header's start)
  tm-reply   reply_tid(): the top Via's branch of a relayed 200
  reg-reads  every header read of registrar save()'s quick refresh, on a REGISTER
             (one hdr_values() call, as registrar reads them now)
  reg-1by1   the same through has_hdr/hdr_value one header at a time (before hdr_values)
  reg-fresh  the same on a fresh REGISTER each time (nothing cached yet: msg.cseq is built)
  reg-to     the To URI save() takes the AOR from

Only this file may read the scan's array outside kamapy/sip/: it is the "before".
"""

from __future__ import annotations

import sys
import time

from kamapy_modules import maxfwd
from kamapy_modules.tm import matching

from kamapy.sip import sipscan as _ss
from kamapy.sip.lumps import ADD, DEL, Lump, replace_range
from kamapy.sip.msg import SipMsg

INVITE = (
    b"INVITE sip:bob@203.0.113.9:5062 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Route: <sip:192.0.2.10;lr;ftag=fromtag1;did=a1b.2c3>\r\n"
    b"To: <sip:bob@example.com>;tag=totag9\r\n"
    b"From: \"Alice\" <sip:alice@example.org>;tag=fromtag1\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.org\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Contact: <sip:alice@198.51.100.7:5060>\r\n"
    b"User-Agent: softphone 1.2\r\n"
    b"Content-Length: 0\r\n\r\n")
REGISTER = (
    b"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5097;branch=z9hG4bK-7;rport\r\n"
    b"From: <sip:bench7@127.0.0.1>;tag=1\r\nTo: <sip:bench7@127.0.0.1>\r\n"
    b"Call-ID: cid-a\r\nCSeq: 7 REGISTER\r\n"
    b"Contact: <sip:bench7@127.0.0.1:5097>\r\n"
    b"Expires: 3600\r\nUser-Agent: sipbench\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
REPLY = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK0123456789abcdef.0\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776asdhds;rport=5060\r\n"
    b"To: <sip:bob@example.com>;tag=totag9\r\nFrom: <sip:alice@example.org>;tag=fromtag1\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.org\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:bob@203.0.113.9:5062>\r\nContent-Length: 0\r\n\r\n")

_STOP, _STOP_END, _HDR, _HREC, _NHDR = _ss.STOP, _ss.STOP_END, _ss.HDR, _ss.HREC, _ss.NHDR
_MF_FIRST = _ss.FIRST + _ss.KEY_IDS["max-forwards"]
_ROUTE_FIRST = _ss.FIRST + _ss.KEY_IDS["route"]
_FIRST_LINE_START = _ss.HDR + 1
_SS_CONTACT = _ss.FIRST + _ss.KEY_IDS["contact"]
_SS_REQUIRE = _ss.FIRST + _ss.KEY_IDS["require"]
_SS_SUPPORTED = _ss.FIRST + _ss.KEY_IDS["supported"]
_SS_PATH = _ss.FIRST + _ss.KEY_IDS["path"]
_SS_ALLOW = _ss.FIRST + _ss.KEY_IDS["allow"]
_SS_EXPIRES = _ss.FIRST + _ss.KEY_IDS["expires"]
_SS_UA = _ss.FIRST + _ss.KEY_IDS["user-agent"]
_TO_OK, _TO_U0, _TO_U1 = _ss.TO_OK, _ss.TO + _ss.N_U0, _ss.TO + _ss.N_U1
_CS_OK, _CS_N0, _CS_N1 = _ss.CS_OK, _ss.CS_N0, _ss.CS_N1
_V_OK, _V_BRANCH, _V_P = _ss.V_OK, _ss.V_BRANCH, _ss.V_P
VALUE_KEY, LUMP_KEY = maxfwd.VALUE_KEY, maxfwd.LUMP_KEY


# ------------------------------------------------------------------ "offsets": the code before
def _value_span(text, start, end):
    s = text.find(":", start, end) + 1
    e = end
    while e > s and text[e - 1] in " \t\r\n":
        e -= 1
    while s < e and text[s] in " \t\r\n":
        s += 1
    return s, e


def old_process_maxfwd(msg, limit):
    cache = msg.module_data
    sc = msg._sc
    if sc is not None and sc[_STOP] == _STOP_END and VALUE_KEY not in cache:
        i = sc[_MF_FIRST]
        if i >= 0:
            r = _HDR + _HREC * i
            text = msg.text
            digits = text[sc[r + 3]:sc[r + 4]].strip()
            if digits.isdigit() and digits.isascii() and len(digits) <= 5:
                value = int(digits)
                if value == 0:
                    return -1
                max_limit = 70
                if max_limit and value > max_limit:
                    value = max_limit + 1
                value -= 1
                cache[VALUE_KEY] = value
                s, e = _value_span(text, sc[r + 1], sc[r + 5])
                new = str(value).rjust(e - s)
                if msg.lumps is None:
                    anchor = Lump(DEL, s, e - s, "", "max-forwards")
                    lump = anchor.after = Lump(ADD, s, 0, new, "max-forwards")
                    msg.lumps = [anchor]
                else:
                    lump = replace_range(msg, s, e, new, "max-forwards")
                cache[LUMP_KEY] = lump
                return 1
    raise AssertionError("the bench message takes the fast path")


def old_route_reads(msg):
    sc = msg._sc
    if sc is None or sc[_STOP] != _STOP_END:
        return None
    i = sc[_ROUTE_FIRST]
    if i < 0:
        return -1
    r = _HDR + _HREC * i
    if sc[r + 6] >= 0:
        return None
    text = msg.text
    v0 = sc[r + 3]
    v1 = sc[r + 4]
    if text[v0] != "<" or text.find(">", v0, v1) != v1 - 1 or text.find(",", v0, v1) >= 0:
        return None
    start = sc[r + 1]
    return text[v0 + 1:v1 - 1], start, sc[r + 5]


def new_route_reads(msg):
    h = msg.hdr_spans("route")
    if h is None:
        return -1
    start, v0, v1, end, more = h
    if more:
        return None
    text = msg.text
    if v1 - v0 < 2 or text[v0] != "<" or text.find(">", v0, v1) != v1 - 1 or text.find(",", v0, v1) >= 0:
        return None
    return text[v0 + 1:v1 - 1], start, end


def old_anchor(msg):
    sc = msg._sc
    if sc is not None and sc[_NHDR] > 0 and sc[_STOP] == _STOP_END:
        return sc[_FIRST_LINE_START]
    hdrs = msg.headers
    return hdrs[0].start if hdrs else msg.eoh


def new_anchor(msg):
    return msg.first_header_start


def old_reply_tid(msg):
    sc = msg._sc
    if sc is not None and sc[_V_OK]:
        i = sc[_V_BRANCH]
        if i < 0:
            return None
        k = _V_P + 4 * i
        vs = sc[k + 2]
        if vs < 0:
            return None
        branch = msg.text[vs:sc[k + 3]]
    else:
        branch = msg.via1.branch
    mc, tl = matching.MCOOKIE, matching.TID_LEN
    if branch is None or len(branch) < len(mc) + tl + 2 or not branch.startswith(mc):
        return None
    tid = branch[len(mc):len(mc) + tl]
    if branch[len(mc) + tl] != ".":
        return None
    idx = branch[len(mc) + tl + 1:]
    if not (idx.isascii() and idx.isdigit()):
        return None
    return tid, int(idx)


def old_reg_reads(msg):
    sc = msg._sc
    if sc is None or sc[_STOP] != _STOP_END or sc[_SS_REQUIRE] >= 0 or sc[_SS_PATH] >= 0:
        return None
    i = sc[_SS_CONTACT]
    if i < 0:
        return None
    r = _HDR + _HREC * i
    if sc[r + 6] >= 0:
        return None
    text = msg.text
    value = text[sc[r + 3]:sc[r + 4]]
    callid = msg.callid
    cseq = int(text[sc[_CS_N0]:sc[_CS_N1]]) if sc[_CS_OK] else int(msg.cseq.num)
    i = sc[_SS_EXPIRES]
    if i >= 0:
        r = _HDR + _HREC * i
        expires = text[sc[r + 3]:sc[r + 4]]
    else:
        expires = None
    has_sup = sc[_SS_SUPPORTED] >= 0
    has_allow = sc[_SS_ALLOW] >= 0
    i = sc[_SS_UA]
    ua = text[sc[_HDR + _HREC * i + 3]:sc[_HDR + _HREC * i + 4]] if i >= 0 else None
    return value, callid, cseq, expires, has_sup, has_allow, ua


def new_reg_reads_one_by_one(msg):
    if msg.has_hdr("require") or msg.has_hdr("path"):
        return None
    value = msg.hdr_value("contact")
    if value is None or msg.hdr_count("contact") != 1:
        return None
    return (value, msg.callid, int(msg.cseq_num), msg.hdr_value("expires"), msg.has_hdr("supported"),
            msg.has_hdr("allow"), msg.hdr_value("user-agent"))


_REFRESH_HEADERS = ("require", "path", "contact", "expires", "supported", "allow", "user-agent")


def new_reg_reads(msg):
    """What registrar's _fast_refresh reads now: the seven headers in one hdr_values()."""
    require, path, value, v, supported_v, allow_v, ua = msg.hdr_values(_REFRESH_HEADERS)
    if require is not None or path is not None:
        return None
    if value is None or msg.hdr_count("contact") != 1:
        return None
    return value, msg.callid, int(msg.cseq_num), v, supported_v is not None, allow_v is not None, ua


def old_to_uri(msg):
    sc = msg._sc
    return msg.text[sc[_TO_U0]:sc[_TO_U1]] if sc is not None and sc[_TO_OK] else msg.to_hdr.uri


def new_to_uri(msg):
    return msg.to_uri


# ------------------------------------------------------------------ timing
def best_pair(old, new, n, rounds=9):
    """min ns per call of each, the two run alternately so both see the same machine."""
    best = [None, None]
    for _ in range(rounds):
        for k, fn in enumerate((old, new)):
            t0 = time.perf_counter_ns()
            fn(n)
            dt = (time.perf_counter_ns() - t0) / n
            best[k] = dt if best[k] is None else min(best[k], dt)
    return best


def on_one(job, msg):
    def run(n):
        for _ in range(n):
            job(msg)
    return run


def on_fresh(job, data):
    def run(n):
        for _ in range(n):
            job(SipMsg(data))
    return run


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    maxfwd._limits["max_limit"] = 70
    inv, reg, rpl = SipMsg(INVITE), SipMsg(REGISTER), SipMsg(REPLY)
    # the two columns must do the same job
    a, b = SipMsg(INVITE), SipMsg(INVITE)
    assert old_process_maxfwd(a, 10) == maxfwd.process_maxfwd(b, 10) == 1
    assert [(lp.op, lp.offset, lp.length, lp.after.text) for lp in a.lumps] == \
        [(lp.op, lp.offset, lp.length, lp.after.text) for lp in b.lumps]
    assert old_route_reads(inv) == new_route_reads(inv) is not None
    assert old_anchor(inv) == new_anchor(inv)
    assert old_reply_tid(rpl) == matching.reply_tid(rpl) is not None
    assert old_reg_reads(reg) == new_reg_reads(reg) == new_reg_reads_one_by_one(reg) is not None
    assert old_to_uri(reg) == new_to_uri(reg)

    base, rbase = best_pair(on_fresh(lambda m: None, INVITE), on_fresh(lambda m: None, REGISTER), n)
    pairs = [
        ("maxfwd", on_fresh(lambda m: old_process_maxfwd(m, 10), INVITE),
         on_fresh(lambda m: maxfwd.process_maxfwd(m, 10), INVITE), base),
        ("rr-route", on_one(old_route_reads, inv), on_one(new_route_reads, inv), 0),
        ("rr-anchor", on_one(old_anchor, inv), on_one(new_anchor, inv), 0),
        ("tm-reply", on_one(old_reply_tid, rpl), on_one(matching.reply_tid, rpl), 0),
        ("reg-reads", on_one(old_reg_reads, reg), on_one(new_reg_reads, reg), 0),
        ("reg-1by1", on_one(old_reg_reads, reg), on_one(new_reg_reads_one_by_one, reg), 0),
        ("reg-fresh", on_fresh(old_reg_reads, REGISTER), on_fresh(new_reg_reads, REGISTER), rbase),
        ("reg-to", on_one(old_to_uri, reg), on_one(new_to_uri, reg), 0),
    ]
    rows = []
    for name, old, new, sub in pairs:
        o, w = best_pair(old, new, n)
        rows.append((name, o - sub, w - sub))
    print(f"SipMsg(INVITE) alone: {base:.0f} ns, SipMsg(REGISTER) {rbase:.0f} ns (subtracted from"
          " the rows made on fresh messages: maxfwd, reg-fresh)")
    print(f"{'job':<10} {'offsets':>9} {'api':>9} {'diff':>8}")
    for name, old, new in rows:
        print(f"{name:<10} {old:9.0f} {new:9.0f} {new - old:+8.0f}")


if __name__ == "__main__":
    main()
