"""PVs read from the message itself: first line, common headers, body, sizes."""

from __future__ import annotations

from ..sip.errors import SipParseError
from ..sip.msg import REPLY, REQUEST
from ..sip.nameaddr import parse_nameaddr
from ..sip.scan import split_commas
from .base import NumberIndexPv, fn_pv, resolve_index
from .errors import TransformError
from .registry import PvDef


def method(msg):
    """$rm: the request method; for a reply, the CSeq method."""
    if msg.type == REQUEST:
        return msg.method
    try:
        cseq = msg.cseq
    except SipParseError:
        return None
    return cseq.method if cseq is not None else None


def method_id(msg):
    """$rmid: Kamailio's METHOD_* bit of the method."""
    if msg.type == REQUEST:
        return msg.method_id
    from ..sip.methods import method_id as lookup
    name = method(msg)
    return lookup(name) if name else None


def status(msg):
    """$rs: the reply status code (int); $null for a request."""
    return msg.status if msg.type == REPLY else None


def status_or_zero(msg):
    """$rsi: the status code, 0 for a request."""
    return msg.status if msg.type == REPLY else 0


def reason(msg):
    """$rr: the reply reason phrase."""
    return msg.reason if msg.type == REPLY else None


def version(msg):
    """$rv: the SIP version of the first line."""
    return msg.version


def _header_body(key):
    def get(msg):
        try:
            return msg.header_value(key)
        except SipParseError:
            return None
    get.__doc__ = f"the {key} header body"
    return get


def call_id(msg):
    """$ci: the Call-ID."""
    try:
        return msg.callid
    except SipParseError:
        return None


def cseq_number(msg):
    """$cs: the CSeq number, as its text (Kamailio returns the string)."""
    try:
        cseq = msg.cseq
    except SipParseError:
        return None
    return None if cseq is None else cseq.number


def message_text(msg):
    """$mb: the whole message as received."""
    return msg.text


def message_length(msg):
    """$ml: the length of the received message."""
    return len(msg.data)


def message_type(msg):
    """$mt: 1 request, 2 reply."""
    return msg.type


def message_type_name(msg):
    """$mts: rq / rp."""
    return "rq" if msg.type == REQUEST else "rp"


def message_id(msg):
    """$mi: the message id (per process counter)."""
    return msg.id


def body(msg):
    """$rb: the message body ('' when there is none)."""
    try:
        return msg.body
    except SipParseError:
        return None


def body_size(msg):
    """$bs: the body size in bytes."""
    try:
        return len(msg.body)
    except SipParseError:
        return 0


def content_length(msg):
    """$cl: the Content-Length value; $null without the header."""
    try:
        value = msg.content_length
    except SipParseError:
        return None
    return value


def _contacts(msg):
    try:
        return msg.contacts
    except SipParseError:
        return None


def contact_body(msg):
    """$ct: the body of the first Contact header."""
    try:
        return msg.header_value("contact") or None
    except SipParseError:
        return None


def contact_uri(msg):
    """$ctu: the URI of the first contact; $null for `*` or none."""
    contacts = _contacts(msg)
    if contacts is None or contacts.star or not contacts.contacts:
        return None
    return contacts.contacts[0].uri


def contact_star(msg):
    """$cts: 1 when the Contact is `*`."""
    contacts = _contacts(msg)
    return 1 if contacts is not None and contacts.star else 0


def _nameaddr_uri_of(key):
    def get(msg):
        try:
            value = msg.header_value(key)
            return parse_nameaddr(value).uri if value else None
        except SipParseError:
            return None
    get.__doc__ = f"the URI in the first {key} header"
    return get


class IdentityPv(NumberIndexPv):
    """$ai / $pu: the URI of the n-th identity ([n], default 0) over every header of
    that name (P-Asserted-Identity, P-Preferred-Identity), commas splitting."""

    __slots__ = ()
    header = ""

    def get(self, msg):
        try:
            idx = resolve_index(self.index, msg)
            seen = 0
            for hf in msg.get_headers(self.header):
                value = hf.value
                for s, e in split_commas(value):
                    if seen == idx:
                        return parse_nameaddr(value[s:e]).uri
                    seen += 1
        except (SipParseError, TransformError):
            return None
        return None


class AssertedIdentityPv(IdentityPv):
    __slots__ = ()
    header = "p-asserted-identity"


class PreferredIdentityPv(IdentityPv):
    __slots__ = ()
    header = "p-preferred-identity"


PVS = [
    PvDef("rm", fn_pv("MethodPv", method)),
    PvDef("rmid", fn_pv("MethodIdPv", method_id)),
    PvDef("rs", fn_pv("StatusPv", status)),
    PvDef("rsi", fn_pv("StatusIntPv", status_or_zero)),
    PvDef("rr", fn_pv("ReasonPv", reason)),
    PvDef("rv", fn_pv("VersionPv", version)),
    PvDef("ci", fn_pv("CallIdPv", call_id)),
    PvDef("cs", fn_pv("CSeqPv", cseq_number)),
    PvDef("csb", fn_pv("CSeqBodyPv", _header_body("cseq"))),
    PvDef("ua", fn_pv("UserAgentPv", _header_body("user-agent"))),
    PvDef("cT", fn_pv("ContentTypePv", _header_body("content-type"))),
    PvDef("mb", fn_pv("MessageBufferPv", message_text)),
    PvDef("ml", fn_pv("MessageLengthPv", message_length)),
    PvDef("mt", fn_pv("MessageTypePv", message_type)),
    PvDef("mts", fn_pv("MessageTypeNamePv", message_type_name)),
    PvDef("mi", fn_pv("MessageIdPv", message_id)),
    PvDef("rb", fn_pv("BodyPv", body)),
    PvDef("bs", fn_pv("BodySizePv", body_size)),
    PvDef("cl", fn_pv("ContentLengthPv", content_length)),
    PvDef("ct", fn_pv("ContactPv", contact_body)),
    PvDef("ctu", fn_pv("ContactUriPv", contact_uri)),
    PvDef("cts", fn_pv("ContactStarPv", contact_star)),
    PvDef("rt", fn_pv("ReferToPv", _nameaddr_uri_of("refer-to"))),
    PvDef("re", fn_pv("RemotePartyIdPv", _nameaddr_uri_of("remote-party-id"))),
    PvDef("di", fn_pv("DiversionPv", _nameaddr_uri_of("diversion"))),
    PvDef("ai", AssertedIdentityPv, index=True),
    PvDef("pu", PreferredIdentityPv, index=True),
]
