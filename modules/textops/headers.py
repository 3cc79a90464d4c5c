"""Header functions (Kamailio textops): append_hf, insert_hf, append_urihf, remove_hf,
remove_hf_re, is_present_hf, is_present_hf_re, append_time(_to_request),
append_to_reply.

The header text is given whole ("X-Foo: bar\\r\\n"); a missing line end is added, so a
forgotten \\r\\n never glues two headers together.
"""

from __future__ import annotations

import time

from kamapy.sip.headers import header_key
from kamapy.sip.lumps import anchor_lump, append_header, del_lump, insert_after, insert_before, insert_header

CRLF = "\r\n"


def _line(text: str) -> str:
    return text if text.endswith("\n") else text + CRLF


def _add_hf(msg, text: str, ref: str | None, whole, beside, edge: str) -> int:
    """append_hf / insert_hf: the header at the end (start) of the headers, or after
    (before) the first `ref` header; -1 when there is no text or no such header."""
    if not text:
        return -1
    if ref is None:
        whole(msg, _line(text), "textops")
        return 1
    hf = msg.get_header(ref)
    if hf is None:
        return -1
    beside(anchor_lump(msg, getattr(hf, edge), "textops"), _line(text), "textops")
    return 1


def append_hf(msg, text: str, after: str | None = None) -> int:
    return _add_hf(msg, text, after, append_header, insert_after, "end")


def insert_hf(msg, text: str, before: str | None = None) -> int:
    return _add_hf(msg, text, before, insert_header, insert_before, "start")


def append_urihf(msg, prefix: str, suffix: str) -> int:
    append_header(msg, _line(prefix + msg.current_uri + suffix), "textops")
    return 1


def remove_hf(msg, name: str) -> int:
    """Remove every header of that name (compact or full form); the count, or -1."""
    n = 0
    for hf in msg.get_headers(name):
        del_lump(msg, hf.start, hf.end - hf.start, "textops")
        n += 1
    return n if n else -1


def remove_hf_re(msg, regex) -> int:
    n = 0
    for hf in msg.headers:
        if regex.search(hf.name):
            del_lump(msg, hf.start, hf.end - hf.start, "textops")
            n += 1
    return n if n else -1


def is_present_hf(msg, name: str) -> int:
    return 1 if msg.get_header(name) is not None else -1


def is_present_hf_re(msg, regex) -> int:
    return 1 if any(regex.search(hf.name) for hf in msg.headers) else -1


def http_date(now: float | None = None) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))


def append_to_reply(msg, text: str) -> int:
    if not text:
        return -1
    if msg.reply_lumps is None:
        msg.reply_lumps = []
    msg.reply_lumps.append(_line(text))
    return 1


def append_time(msg) -> int:
    return append_to_reply(msg, f"Date: {http_date()}")


def append_time_to_request(msg) -> int:
    if msg.get_header("date") is not None:
        return 1
    append_header(msg, f"Date: {http_date()}{CRLF}", "textops")
    return 1


def header_name(value) -> str:
    """Load-time check of a header name argument."""
    name = str(value).strip()
    if not name or ":" in name or " " in name:
        raise ValueError(f"bad header name {value!r}")
    header_key(name)
    return name
