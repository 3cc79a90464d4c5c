"""The Contact header a 3xx reply carries: the destination set (the R-URI when the
script rewrote it, then each branch), as Kamailio's sl and tm add it to every redirect
they send (core dset.c print_dset). sl's `rich_redirect` adds each branch's flags (1)
and its path as an escaped `?Route=` header of the URI (2)."""

from __future__ import annotations

from kamapy.pv.dset import Q_UNSPECIFIED, q_to_str

RICH_FLAGS = 1
RICH_PATH = 2

# RFC 3261 unreserved and param-unreserved: kept as they are in the escaped path
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()[]/:&+$")


def _escape_param(text: str) -> str:
    return "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in text.encode("latin-1", "replace"))


def _contact(uri: str, q: int, path: str | None, flags: int, options: int) -> str:
    out = "<" + uri
    if options & RICH_PATH and path:
        out += "?Route=" + _escape_param(path)
    out += ">"
    if q != Q_UNSPECIFIED:
        out += ";q=" + q_to_str(q)
    if options & RICH_FLAGS:
        out += f";flags={flags}"
    return out


def redirect_contact(msg, options: int = 0) -> str:
    """'Contact: <a>;q=0.5, <b>\\r\\n', or '' when the set is empty (no rewritten
    R-URI and no branch: Kamailio then adds nothing)."""
    parts = []
    if msg.new_uri is not None:
        parts.append(_contact(msg.new_uri, msg.ruri_q, msg.path_vec, msg.ruri_bflags, options))
    for b in msg.branches:
        parts.append(_contact(b.uri, b.q, b.path, b.flags, options))
    return "Contact: " + ", ".join(parts) + "\r\n" if parts else ""
