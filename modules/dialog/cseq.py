"""track_cseq_updates (Kamailio 5.6: dlg_cseq.c): a request that uac_auth() answers a
401/407 with takes the next CSeq downstream; from then on the callee sees the caller's
requests renumbered by the increments so far, and the caller sees its own numbers in
every reply.

  - uac_auth() calls on_uac_auth() (kamapy.cfgenv.cseq_update): for a request going
    downstream in a dialog, $dlg_var(cseq_diff) grows by one and the request gets
    "P-K-CSeq-Auth: <its CSeq + cseq_diff>";
  - a later downstream request of a dialog that was renumbered (IFLAG_CSEQ_DIFF) gets
    "P-K-CSeq-Refresh: <its CSeq + cseq_diff>" when it is matched (refresh());
  - on_data_out(), on every request that leaves: the CSeq number becomes that value,
    ".cs<old number>" is appended to the top Via branch, the header goes;
  - on_data_in(), on every reply that arrives: a top Via branch ending ".cs<n>" puts n
    back as the CSeq number (space-padded in front when shorter) and turns ".cs" into
    ";z=", so tm matches the reply by the branch it sent and the caller gets its CSeq.

Only the downstream direction (caller to callee) is renumbered, as in Kamailio.
"""

from __future__ import annotations

import logging
import re

from kamapy.cfgenv import UAC_CSEQ_AUTH, UAC_CSEQ_REFRESH
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import append_header
from kamapy.sip.msg import REQUEST, SipMsg

from .flags import IFLAG_CSEQ_DIFF
from .match import DIR_DOWNSTREAM, direction, msg_ids
from .store import store

log = logging.getLogger("kamapy.dialog")

VAR = "cseq_diff"

_BRANCH = re.compile(r";[ \t]*branch[ \t]*=[ \t]*([^;,\s]+)", re.I)
_AUTH, _REFRESH = UAC_CSEQ_AUTH.lower(), UAC_CSEQ_REFRESH.lower()


def _downstream(callid: str, ftag: str, ttag: str):
    """The dialog a request with these ids goes downstream in (ended ones too: the ACK
    of a refused INVITE leaves after the reply ended its dialog)."""
    for d in store().by_callid(callid):
        if direction(d, callid, ftag, ttag) == DIR_DOWNSTREAM:
            return d
    return None


def _diff(d) -> int | None:
    try:
        return int(d.vars[VAR])
    except (KeyError, ValueError):
        return None


# ---------------------------------------------------------------------- the script side
def on_uac_auth(msg) -> int:
    """Kamailio's dlg_cseq_update: the request uac_auth() just answered a challenge for."""
    if msg.type != REQUEST:
        return 0
    ids = msg_ids(msg)
    if ids is None:
        return -1
    try:
        num = msg.cseq.num
    except SipParseError:
        return -1
    found = _downstream(*ids)
    if found is None:
        return 0
    s = store()
    with s.locked(found.h_entry, found.h_id) as d:
        if d is None:
            return 0
        vinc = 0
        if d.iflags & IFLAG_CSEQ_DIFF:
            vinc = _diff(d)
            if vinc is None:
                return 0  # renumbered but no variable (the script removed it)
        vinc += 1
        d.vars[VAR] = str(vinc)
        s.save(d)
    append_header(msg, f"{UAC_CSEQ_AUTH}: {(num or 0) + vinc}\r\n")
    return 0


def refresh(msg, d) -> None:
    """Kamailio's dlg_cseq_refresh: a downstream request matched to a renumbered dialog."""
    vinc = _diff(d)
    if not vinc:
        return
    try:
        num = msg.cseq.num or 0
    except SipParseError:
        return
    append_header(msg, f"{UAC_CSEQ_REFRESH}: {num + vinc}\r\n")


# ---------------------------------------------------------------------- the wire side
def _mark_renumbered(d) -> None:
    if d.iflags & IFLAG_CSEQ_DIFF:
        return
    s = store()
    with s.locked(d.h_entry, d.h_id) as fresh:
        if fresh is not None and not fresh.iflags & IFLAG_CSEQ_DIFF:
            fresh.iflags |= IFLAG_CSEQ_DIFF
            s.save(fresh)


def _branch_span(msg) -> tuple[int, int] | None:
    """(start, end) in msg.text of the top Via's branch value."""
    span = msg.hdr_value_span("via")
    if span is None:
        return None
    m = _BRANCH.search(msg.text, span[0], span[1])
    if m is None:
        return None
    return m.start(1), m.end(1)


def _cseq_number_span(msg) -> tuple[int, int] | None:
    span = msg.hdr_value_span("cseq")
    if span is None:
        return None
    i, end = span
    text = msg.text
    while i < end and text[i] in " \t":
        i += 1
    j = i
    while j < end and text[j].isdigit():
        j += 1
    return (i, j) if j > i else None


def on_data_out(data: bytes) -> bytes:
    """Kamailio's dlg_cseq_msg_sent, on every message that leaves."""
    if b"P-K-CSeq-" not in data or data[:8] == b"SIP/2.0 ":
        return data
    try:
        msg = SipMsg(data)
        if msg.type != REQUEST:
            return data
        callid, ftag, ttag = msg.callid, msg.from_hdr.tag or "", msg.to_hdr.tag or ""
        if not ttag and msg.method not in ("INVITE", "ACK", "CANCEL"):
            return data
        branch = _branch_span(msg)
        number = _cseq_number_span(msg)
        hdrs = msg.headers
    except SipParseError:
        return data
    if branch is None or number is None or branch[1] <= branch[0]:
        return data
    d = _downstream(callid, ftag, ttag)
    if d is None:
        return data
    hfk = next((h for h in hdrs if h.name.lower() == _AUTH), None)
    nval = hfk.value.strip() if hfk is not None else ""
    if not nval:
        hfk = next((h for h in hdrs if h.name.lower() == _REFRESH), None)
        nval = hfk.value.strip() if hfk is not None else ""
    if not nval:
        return data
    _mark_renumbered(d)
    text = msg.text
    old = text[number[0]:number[1]]
    # the edits, from the end of the message backwards so earlier offsets hold
    edits = sorted([(number[0], number[1], nval), (branch[1], branch[1], ".cs" + old),
                    (hfk.start, hfk.end, "")], reverse=True)
    for a, b, new in edits:
        text = text[:a] + new + text[b:]
    return text.encode("latin-1")


def on_data_in(data: bytes) -> bytes:
    """Kamailio's dlg_cseq_msg_received, on every message that arrives: a reply to a
    renumbered request gets its CSeq back."""
    if data[:8] != b"SIP/2.0 " or b".cs" not in data:
        return data
    try:
        msg = SipMsg(data)
        branch = _branch_span(msg)
        number = _cseq_number_span(msg)
        if branch is None or number is None:
            return data
        if len(msg.vias) < 2 and msg.cseq.method != "CANCEL":
            return data  # a reply to a request of our own (only a CANCEL may be renumbered)
    except SipParseError:
        return data
    text = msg.text
    value = text[branch[0]:branch[1]]
    dot = value.rfind(".")
    if dot < 0 or not value.startswith(".cs", dot):
        return data
    orig = value[dot + 3:]
    width = number[1] - number[0]
    if not orig or len(orig) > width:
        return data
    at = branch[0] + dot
    for a, b, new in sorted([(number[0], number[1], orig.rjust(width)), (at, at + 3, ";z=")],
                            reverse=True):
        text = text[:a] + new + text[b:]
    return text.encode("latin-1")


def install() -> None:
    """mod_init, with track_cseq_updates on."""
    from kamapy import cfgenv
    from kamapy.net import data_hooks
    cfgenv.cseq_update[0] = on_uac_auth
    data_hooks.register_in(on_data_in)
    data_hooks.register_out(on_data_out)
