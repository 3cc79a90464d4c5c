"""nathelper's select (Kamailio 5.6 README, "Selects"):

  @nathelper.rewrite_contact[n]                  the n-th Contact (from 1) as written,
                                                 its host[:port] replaced by the source
                                                 address the message came from
  @nathelper.rewrite_contact[n].nameaddr.uri     the URI of that
  @nathelper.rewrite_contact[n].nameaddr.name    its display name ("" when none)
  @nathelper.rewrite_contact[n].nameaddr.params  its header parameters (after the URI)

The n-th contact counts the way Kamailio's contact iterator does: Contact headers in
order, and within each header from the last contact written to the first (its parser
links each contact in front of the previous one). The port is left out when the source
port is the transport's default (5060, 5061 for TLS), as Kamailio writes it. A message
with no such contact, a `*` or a URI without a host makes the select fail ("" in an
expression). An IPv6 source is written in brackets (Kamailio writes it bare, which is
not a URI: D-nathelper-2).
"""

from __future__ import annotations

import logging
import re

from kamapy.pv.errors import PvError
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import PROTO_TLS
from kamapy.sip.uri import parse_uri

from .contact_uri import _received_uri, all_contacts, host_offset, hostport_end

log = logging.getLogger("kamapy.nathelper")

_NAME = re.compile(r"rewrite_contact\[(-?\d+)\](?:\.nameaddr\.(uri|name|params))?$")
PARTS = ("uri", "name", "params")


def nth_contact(msg, n: int):
    """(Contact, its text) of the n-th contact in Kamailio's iteration order, or None."""
    items = all_contacts(msg)
    if not items:
        return None
    by_hf: dict[int, list] = {}
    order = []
    for c, spans in items:
        key = id(c.hf)
        if key not in by_hf:
            by_hf[key] = []
            order.append(key)
        by_hf[key].append((c, spans))
    seq = [item for key in order for item in reversed(by_hf[key])]
    if n > len(seq):
        return None
    c, (cs, ce, _us, _ue) = seq[n - 1]
    return c, msg.text[cs:ce]


def rewrite_contact(msg, n: int) -> str | None:
    found = nth_contact(msg, n)
    if found is None:
        return None
    c, text = found
    uri_text = _received_uri(msg, c)
    try:
        uri = parse_uri(uri_text)
    except SipParseError:
        return None
    if not uri.host:
        return None
    at = text.find(uri_text, text.find("<") + 1 if c.bracketed else 0)
    if at < 0:
        return None
    hs, he = at + host_offset(uri), at + hostport_end(uri)
    rcv = msg.rcv
    ip = f"[{rcv.src_ip}]" if ":" in rcv.src_ip else rcv.src_ip
    default = 5061 if rcv.proto == PROTO_TLS else 5060
    hostport = ip if rcv.src_port == default else f"{ip}:{rcv.src_port}"
    return text[:hs] + hostport + text[he:]


def _unquoted_find(text: str, ch: str, start: int = 0) -> int:
    quoted = False
    i = start
    while i < len(text):
        t = text[i]
        if t == '"':
            quoted = not quoted
        elif t == "\\" and quoted:
            i += 1
        elif t == ch and not quoted:
            return i
        i += 1
    return -1


def nameaddr_part(value: str, part: str) -> str | None:
    """Kamailio's .nameaddr.uri / .name / .params of a name-addr or addr-spec text."""
    lt = _unquoted_find(value, "<")
    if part == "name":
        return value[:lt].rstrip(" \t") if lt >= 0 else ""
    if lt < 0:
        semi = _unquoted_find(value, ";")
        if part == "uri":
            return value[:semi] if semi >= 0 else value
        return value[semi + 1:] if semi >= 0 else None
    gt = _unquoted_find(value, ">", lt + 1)
    if gt < 0:
        return None
    if part == "uri":
        return value[lt + 1:gt]
    semi = _unquoted_find(value, ";", gt + 1)
    return value[semi + 1:] if semi >= 0 else None


class RewriteContact:
    __slots__ = ("n", "part")

    def __init__(self, n: int, part: str | None):
        self.n, self.part = n, part

    def get(self, msg):
        if self.n <= 0:
            log.error("rewrite contact[%d] - zero or negative index not supported", self.n)
            return None
        value = rewrite_contact(msg, self.n)
        if value is None or self.part is None:
            return value
        return nameaddr_part(value, self.part)


def make(rest: str):
    """The select's target from what follows `nathelper.` (config compile time)."""
    m = _NAME.match(rest)
    if m is None:
        raise PvError(f"unsupported select 'nathelper.{rest}': nathelper has "
                      "@nathelper.rewrite_contact[n] and its .nameaddr.uri / .name / .params", 0)
    n = int(m.group(1))
    if n <= 0:
        # Kamailio's -c accepts it and every evaluation fails: so here, with a warning now
        log.warning("@nathelper.rewrite_contact[%d]: the index counts from 1, the select "
                    "always fails", n)
    return RewriteContact(n, m.group(2))
