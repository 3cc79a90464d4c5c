"""search / replace over the message text (Kamailio textops: search, search_body,
search_append, replace, replace_all, replace_body ...).

Every function reads the message as received and records its change as a lump, so
a later call still sees the original text, as in Kamailio. search() looks at the
whole message; replace*/search_append start after the first line (so the R-URI is
never touched by accident); *_body ones look at the body only.
"""

from __future__ import annotations

from kamapy.sip.lumps import anchor_lump, insert_after, replace_range


def _headers_start(msg) -> int:
    return msg.first_line_end + len(msg.nl)


def search(msg, regex) -> int:
    return 1 if regex.search(msg.text) else -1


def search_body(msg, regex) -> int:
    body = msg.body
    return 1 if body and regex.search(body) else -1


def search_append(msg, regex, text: str) -> int:
    m = regex.search(msg.text, _headers_start(msg))
    if m is None:
        return -1
    insert_after(anchor_lump(msg, m.end(), "textops"), text, "textops")
    return 1


def search_append_body(msg, regex, text: str) -> int:
    body = msg.body
    m = regex.search(body) if body else None
    if m is None:
        return -1
    insert_after(anchor_lump(msg, msg.body_start + m.end(), "textops"), text, "textops")
    return 1


def _replace(msg, regex, text: str, start: int, replace_all: bool) -> int:
    found = 0
    for m in regex.finditer(msg.text, start):
        if m.end() == m.start():  # an empty match replaces nothing (Kamailio stops)
            break
        replace_range(msg, m.start(), m.end(), text, "textops")
        found += 1
        if not replace_all:
            break
    return 1 if found else -1


def replace(msg, regex, text: str) -> int:
    return _replace(msg, regex, text, _headers_start(msg), False)


def replace_all(msg, regex, text: str) -> int:
    return _replace(msg, regex, text, _headers_start(msg), True)


def replace_body(msg, regex, text: str) -> int:
    _ = msg.body
    return _replace(msg, regex, text, msg.body_start, False) if msg.body else -1


def replace_body_all(msg, regex, text: str) -> int:
    _ = msg.body
    return _replace(msg, regex, text, msg.body_start, True) if msg.body else -1
