"""Deferred changes to a message (Kamailio's data lumps, core/data_lump.c).

A module never edits msg.text: it records what to change, and the builder applies it
all in one pass when the message is sent on. The model is Kamailio's, so modules ported
from it compose the same way:

  - msg.lumps is a list of *anchors* sorted by offset into msg.text. An anchor either
    deletes a range (DEL) or marks a point (NOP). A new anchor at an offset that already
    has anchors goes after them, so two append_header() calls keep their order.
  - text is attached to an anchor with insert_before()/insert_after(). Each returns the
    new lump, and text attached to *that* lump lands next to it; so chaining on the
    returned lump keeps order, while attaching twice to the same anchor puts the newest
    text first (nearest the anchor for 'after', farthest for 'before') -- as Kamailio.
  - when building, anchors are visited by offset; an anchor whose offset lies inside a
    range an earlier anchor deleted is dropped together with its text (Kamailio's
    "overlapped lumps" rule): deleting a header and inserting inside it does not mix.

Offsets are absolute offsets into msg.text; body helpers take offsets into msg.body.
"""

from __future__ import annotations

from bisect import insort

from .errors import SipParseError
from .msg import HeaderField, SipMsg

NOP = 0
DEL = 1
ADD = 2

CRLF = "\r\n"


class Lump:
    __slots__ = ("op", "offset", "length", "text", "before", "after", "kind")

    def __init__(self, op, offset=0, length=0, text="", kind=None):
        self.op = op
        self.offset = offset
        self.length = length
        self.text = text
        self.before = None  # chain of ADD lumps printed before this one
        self.after = None   # chain of ADD lumps printed after this one
        self.kind = kind    # free label ("via", "record-route", "content-length" ...)

    def clone(self) -> Lump:
        """A copy of this lump alone (no chains), for a branch's own lump list; a lump
        whose text is computed (rr's RecordRouteLump) stays computed."""
        return Lump(self.op, self.offset, self.length, self.text, self.kind)

    def __repr__(self):
        names = {NOP: "NOP", DEL: "DEL", ADD: "ADD"}
        return f"Lump({names[self.op]} @{self.offset}+{self.length} {self.text!r} {self.kind or ''})"


def _list(msg: SipMsg) -> list:
    if msg.lumps is None:
        msg.lumps = []
    return msg.lumps


def _check_range(msg, offset, length):
    if offset < 0 or length < 0 or offset + length > len(msg.text):
        raise SipParseError(f"lump range {offset}+{length} outside the message", None)


def anchor_lump(msg: SipMsg, offset: int, kind=None) -> Lump:
    """A point to attach text to (Kamailio anchor_lump)."""
    _check_range(msg, offset, 0)
    lump = Lump(NOP, offset, 0, "", kind)
    insort(_list(msg), lump, key=_offset)
    return lump


def del_lump(msg: SipMsg, offset: int, length: int, kind=None) -> Lump:
    """Delete length chars at offset; the returned anchor takes replacement text."""
    _check_range(msg, offset, length)
    lump = Lump(DEL, offset, length, "", kind)
    lumps = msg.lumps
    if lumps is None:
        msg.lumps = [lump]
    elif not lumps or lumps[-1].offset <= offset:
        lumps.append(lump)  # what insort_right does here, without its key calls
    else:
        insort(lumps, lump, key=_offset)
    return lump


def _offset(lump):
    return lump.offset


def insert_before(lump: Lump, text: str, kind=None) -> Lump:
    new = Lump(ADD, lump.offset, 0, text, kind)
    new.before = lump.before
    lump.before = new
    return new


def insert_after(lump: Lump, text: str, kind=None) -> Lump:
    new = Lump(ADD, lump.offset, 0, text, kind)
    new.after = lump.after
    lump.after = new
    return new


def lump_texts(lump: Lump) -> list[str]:
    """The text a lump contributes, in output order (its before chain, itself, after)."""
    out = []
    r = lump.before
    while r is not None:
        out.append(r.text)
        r = r.before
    if lump.op == ADD:
        out.append(lump.text)
    r = lump.after
    while r is not None:
        out.append(r.text)
        r = r.after
    return out


# ------------------------------------------------------------------ header helpers

def _line(text: str) -> str:
    return text if text.endswith("\n") else text + CRLF


def delete_header(msg: SipMsg, hf: HeaderField) -> Lump:
    """Remove a whole header line (remove_hf)."""
    return del_lump(msg, hf.start, hf.end - hf.start, hf.key)


def replace_header(msg: SipMsg, hf: HeaderField, line: str) -> Lump:
    """Replace a whole header line by `line` (CRLF added when missing)."""
    anchor = delete_header(msg, hf)
    return insert_after(anchor, _line(line), hf.key)


def append_header(msg: SipMsg, line: str, kind=None) -> Lump:
    """Add a header line at the end of the header block (append_hf)."""
    return insert_before(anchor_lump(msg, msg.eoh, kind), _line(line), kind)


def insert_header(msg: SipMsg, line: str, kind=None) -> Lump:
    """Add a header line at the top of the header block (insert_hf)."""
    hdrs = msg.headers
    offset = hdrs[0].start if hdrs else msg.eoh
    return insert_before(anchor_lump(msg, offset, kind), _line(line), kind)


def add_record_route(msg: SipMsg, line: str) -> Lump:
    """A Record-Route line on top of the headers, where Kamailio's rr puts it.
    `line` is the whole header ("Record-Route: <sip:...;lr>") or only its value."""
    if not line.lower().startswith("record-route:"):
        line = "Record-Route: " + line
    return insert_header(msg, line, "record-route")


def insert_via(msg: SipMsg, line: str) -> Lump:
    """A Via line just above the top Via header (value or whole line)."""
    if not line[:4].lower() == "via:":
        line = "Via: " + line
    hf = msg.get_header("via")
    offset = hf.start if hf is not None else msg.eoh
    return insert_before(anchor_lump(msg, offset, "via"), _line(line), "via")


def replace_range(msg: SipMsg, start: int, end: int, text: str, kind=None) -> Lump:
    """Replace msg.text[start:end] by text."""
    anchor = del_lump(msg, start, end - start, kind)
    new = anchor.after = Lump(ADD, start, 0, text, kind)  # insert_after() on a fresh anchor
    return new


# ------------------------------------------------------------------ body helpers

def replace_body_range(msg: SipMsg, start: int, end: int, text: str, kind="body") -> Lump:
    """Replace msg.body[start:end] by text (SDP rewriting: c=, m=, a= ...)."""
    _ = msg.eoh  # makes sure the header block (and so body_start) is known
    base = msg.body_start
    if start < 0 or end < start or base + end > len(msg.text):
        raise SipParseError("body range outside the body", None)
    return replace_range(msg, base + start, base + end, text, kind)


def insert_body(msg: SipMsg, offset: int, text: str, kind="body") -> Lump:
    """Insert text at an offset of msg.body."""
    _ = msg.eoh
    return insert_before(anchor_lump(msg, msg.body_start + offset, kind), text, kind)


def replace_body(msg: SipMsg, text: str) -> Lump:
    """Replace the whole body (Content-Length is fixed at build time)."""
    _ = msg.eoh
    return replace_range(msg, msg.body_start, len(msg.text), text, "body")


def find_lumps(msg: SipMsg, kind) -> list[Lump]:
    """Every lump (anchor or attached) with a given kind label."""
    out = []
    for a in msg.lumps or ():
        if a.kind == kind:
            out.append(a)
        for chain in ("before", "after"):
            r = getattr(a, chain)
            while r is not None:
                if r.kind == kind:
                    out.append(r)
                r = getattr(r, chain)
    return out
