"""The first Contact of a message as nathelper's functions see it (Kamailio's
get_contact_uri): the head of the first Contact header's parsed list -- which is the
last contact written in that header -- its parsed URI and
where that URI sits in msg.text, so a lump can replace it.

Kamailio's fix_nated_contact() and set_contact_alias() point the parsed contact at
their new text: later tests (nat_uac_test 1/128) and the registrar's save() then read
the new URI, while the header text ($ct) stays as received, and a second rewrite is
refused. Here the parsed Contact's .uri is set to the new text the same way (the
received one is kept under ORIG_KEY to find the URI in msg.text), and NEW_URI_KEY
marks the message as rewritten.
"""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from kamapy.sip.uri import parse_uri

NEW_URI_KEY = "nathelper.contact_new_uri"
ORIG_KEY = "nathelper.contact_orig_uri"   # (the rewritten Contact, its URI as received)


class FirstContact:
    __slots__ = ("contact", "uri", "uri_start", "uri_end", "start", "end", "hf", "body_start",
                 "body_end")

    def __init__(self, contact, uri, uri_start, uri_end, start, end, hf, body_start, body_end):
        self.contact = contact      # kamapy.sip.contact.Contact
        self.uri = uri              # its SipUri (the rewritten one after a rewrite)
        self.uri_start = uri_start  # offsets of the URI text in msg.text
        self.uri_end = uri_end
        self.start = start          # offsets of the whole contact (display .. params)
        self.end = end
        self.hf = hf                # its Contact HeaderField
        self.body_start = body_start  # the header body in msg.text
        self.body_end = body_end


def _received_uri(msg, c) -> str:
    orig = msg.cached(ORIG_KEY, lambda m: None)
    return orig[1] if orig is not None and orig[0] is c else c.uri


def contact_spans(msg, hf, contacts):
    """(start, end, uri_start, uri_end) in msg.text for each contact of one header,
    or None when they cannot be placed (a folded header written unusually)."""
    text = msg.text
    s, e = msg.raw_value_span(hf)
    out = []
    pos = s
    for c in contacts:
        cs = text.find(c.text, pos, e)
        if cs < 0:
            return None
        ce = cs + len(c.text)
        uri = _received_uri(msg, c)
        us = text.find(uri, cs + (c.text.find("<") + 1 if c.bracketed else 0), ce)
        if us < 0:
            return None
        out.append((cs, ce, us, us + len(uri)))
        pos = ce
    return out


def all_contacts(msg):
    """Every contact of every Contact header with its spans: [(Contact, spans)], or
    None when the Contact headers do not parse."""
    try:
        contacts = msg.contacts
    except SipParseError:
        return None
    out = []
    by_hf = {}
    for c in contacts.contacts:
        by_hf.setdefault(id(c.hf), (c.hf, []))[1].append(c)
    for hf, lst in by_hf.values():
        spans = contact_spans(msg, hf, lst)
        if spans is None:
            return None
        out.extend(zip(lst, spans, strict=True))
    out.sort(key=lambda item: item[1][0])
    return out


def first_contact(msg) -> FirstContact | None:
    """None where Kamailio's get_contact_uri fails: no Contact, '*', a URI that does not
    parse or has no host."""
    hf = msg.get_header("contact")
    if hf is None:
        return None
    try:
        contacts = msg.contacts
    except SipParseError:
        return None
    first = [c for c in contacts.contacts if c.hf is hf]
    if not first:
        return None
    # Kamailio's parse_contact links each contact in front of the previous one, so the
    # "first" contact its functions see is the last one written in the first header
    c = first[-1]
    spans = contact_spans(msg, hf, first)
    if spans is None:
        return None
    cs, ce, us, ue = spans[-1]
    new = msg.cached(NEW_URI_KEY, lambda m: None)
    try:
        uri = parse_uri(new if new is not None else c.uri)
    except SipParseError:
        return None
    if not uri.host:
        return None
    bs, be = msg.raw_value_span(hf)
    return FirstContact(c, uri, us, ue, cs, ce, hf, bs, be)


def rewritten(msg) -> bool:
    """True once fix_nated_contact() or set_contact_alias() replaced the URI."""
    return msg.cached(NEW_URI_KEY, lambda m: None) is not None


def mark_rewritten(msg, contact, new_uri: str):
    msg.invalidate(NEW_URI_KEY)
    msg.cached(NEW_URI_KEY, lambda m: new_uri)
    msg.invalidate(ORIG_KEY)
    orig = (contact, contact.uri)
    msg.cached(ORIG_KEY, lambda m: orig)
    contact.uri = new_uri
    contact._parsed_uri = None  # NameAddr's cache of the parsed URI


def host_offset(uri) -> int:
    """Where the host starts in uri.text."""
    text = uri.text
    base = len(uri.scheme) + 1
    if uri.user or uri.password is not None:
        at = text.find("@", base)
        if at >= 0:
            base = at + 1
    if not text.startswith(uri.host, base):
        found = text.find(uri.host, base)
        if found >= 0:
            base = found
    return base


def hostport_end(uri) -> int:
    """Where host[:port] ends in uri.text."""
    end = host_offset(uri) + len(uri.host)
    if uri.port_str:
        end += 1 + len(uri.port_str)
    return end


PROTO_PARAM = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


def uri_proto(uri) -> int:
    """Kamailio's sip_uri.proto: from ;transport= only (PROTO_NONE when absent), 7
    (PROTO_OTHER) for an unknown name."""
    t = uri.transport
    if not t:
        return 0
    return PROTO_PARAM.get(t, 7)
