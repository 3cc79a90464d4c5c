"""The Route headers of a request as loose_route() walks them: every element with its
place in the message text, and the lumps that take elements out again.

A Route header may hold several comma-separated elements; removing some of them must
leave a well-formed header (Kamailio: remove the whole header when its last element
goes, else cut from the header body up to the next element kept, or from the end of
the previous element kept).
"""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import del_lump
from kamapy.sip.nameaddr import parse_nameaddr
from kamapy.sip.scan import split_commas

_KEY = "rr.route_entries"


class RouteEntry:
    """One element of a Route header."""

    __slots__ = ("hf", "header_no", "index", "start", "end", "nameaddr", "_uri")

    def __init__(self, hf, header_no, index, start, end, nameaddr):
        self.hf = hf                # the HeaderField it sits in
        self.header_no = header_no  # which Route header (0 = first)
        self.index = index          # which element of that header
        self.start = start          # offsets of the element in msg.text
        self.end = end
        self.nameaddr = nameaddr
        self._uri = None

    @property
    def uri_text(self) -> str:
        return self.nameaddr.uri

    @property
    def uri(self):
        """The parsed URI (SipParseError when it is not one)."""
        if self._uri is None:
            self._uri = self.nameaddr.parsed_uri
        return self._uri

    @property
    def is_loose(self) -> bool:
        return self.uri.has_param("lr")

    def __repr__(self):
        return f"RouteEntry({self.header_no}.{self.index} {self.nameaddr.text!r})"


def _build(msg) -> list[list[RouteEntry]]:
    text = msg.text
    headers = []
    for n, hf in enumerate(msg.get_headers("route")):
        s, e = msg.raw_value_span(hf)
        row = []
        for i, (es, ee) in enumerate(split_commas(text, s, e)):
            row.append(RouteEntry(hf, n, i, es, ee, parse_nameaddr(text[es:ee])))
        if row:
            headers.append(row)
    return headers


def route_headers(msg) -> list[list[RouteEntry]]:
    """The Route elements grouped by header, as received (parsed once per message).
    Raises SipParseError on a malformed Route."""
    return msg.cached(_KEY, _build)


def first_route(msg) -> RouteEntry | None:
    try:
        headers = route_headers(msg)
    except SipParseError:
        return None
    return headers[0][0] if headers else None


def remove_entries(msg, entries) -> None:
    """Take Route elements out of the message through lumps. Within one header the
    removed elements must form a run at its start or at its end (what routing ever
    removes: our own entries at the top, the saved R-URI at the bottom)."""
    by_header: dict[int, list[RouteEntry]] = {}
    for entry in entries:
        by_header.setdefault(entry.header_no, []).append(entry)
    headers = route_headers(msg)
    for header_no, removed in by_header.items():
        row = headers[header_no]
        removed.sort(key=lambda e: e.index)
        hf = row[0].hf
        if len(removed) == len(row):
            del_lump(msg, hf.start, hf.end - hf.start, "route")
        elif removed[0].index == 0:  # a run at the start: up to the next element kept
            body_start = msg.raw_value_span(hf)[0]
            keep = row[removed[-1].index + 1]
            del_lump(msg, body_start, keep.start - body_start, "route")
        else:  # a run at the end: from the end of the element before it
            before = row[removed[0].index - 1]
            del_lump(msg, before.end, removed[-1].end - before.end, "route")
