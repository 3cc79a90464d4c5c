"""The sanity checks, one function each, with Kamailio's bit values, reply codes and
reasons (modules/sanity). A check returns PASSED or FAILED; on failure it has already
asked for the reply through `reject(msg, code, reason)` -- or marked the message
FL_MSG_NOREPLY when the request is too broken to be answered at all.
"""

from __future__ import annotations

import logging

from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import PROTO_SCTP, PROTO_UDP, REQUEST
from kamapy.sip.msg_flags import FL_MSG_NOREPLY
from kamapy.sip.nameaddr import parse_nameaddr
from kamapy.sip.scan import split_tokens
from kamapy.sip.uri import parse_uri

log = logging.getLogger("kamapy.sanity")

PASSED = 1
FAILED = 0

RURI_SIP_VERSION = 1 << 0
RURI_SCHEME = 1 << 1
REQUIRED_HEADERS = 1 << 2
VIA_SIP_VERSION = 1 << 3
VIA_PROTOCOL = 1 << 4
CSEQ_METHOD = 1 << 5
CSEQ_VALUE = 1 << 6
CONTENT_LENGTH = 1 << 7
EXPIRES_VALUE = 1 << 8
PROXY_REQUIRE = 1 << 9
PARSE_URIS = 1 << 10
CHECK_DIGEST = 1 << 11
CHECK_DUPTAGS = 1 << 12
CHECK_AUTHORIZATION = 1 << 13
VIA1_HEADER = 1 << 14
RFC3261_COMPLIANCE = 1 << 15
CHECK_SIZES = 1 << 16
MAX_CHECKS = 1 << 17

DEFAULT_CHECKS = (RURI_SIP_VERSION | RURI_SCHEME | REQUIRED_HEADERS | CSEQ_METHOD | CSEQ_VALUE
                  | CONTENT_LENGTH | EXPIRES_VALUE | PROXY_REQUIRE | CHECK_DIGEST)  # 3047

URI_RURI = 1 << 0
URI_FROM = 1 << 1
URI_TO = 1 << 2
URI_CONTACT = 1 << 3
URI_MAX_CHECKS = 1 << 4
DEFAULT_URI_CHECKS = URI_RURI | URI_FROM | URI_TO  # 7


def _no_reply(msg) -> int:
    msg.xflags |= FL_MSG_NOREPLY
    return FAILED


def _refused(msg, reject, code: int, reason: str) -> int:
    """A failed check that answers: reject (reply or log, as the mode says), then FAILED."""
    reject(msg, code, reason)
    return FAILED


def ruri_sip_version(msg, reject) -> int:
    version = msg.version
    if version:
        slash = version.find("/")
        if slash < 0:
            return FAILED
        if version[slash + 1:] != "2.0":
            return _refused(msg, reject, 505, "Version Not Supported (R-URI)")
    return PASSED


def ruri_scheme(msg, reject) -> int:
    # Kamailio's check parses the R-URI first and answers 400 for any URI that does not
    # parse; an unknown scheme is one of those (its parser knows sip, sips, tel, urn), so
    # the 416 branch of check_ruri_scheme is never reached.
    try:
        _ = msg.parsed_ruri
    except SipParseError:
        return _refused(msg, reject, 400, "Bad Request URI")
    return PASSED


def required_headers(msg, reject) -> int:
    for name in ("from", "to", "call-id", "cseq"):
        if msg.get_header(name) is None:
            log.error("check_required_headers failed: no %s", name)
            return _no_reply(msg)
    if msg.get_header("via") is None:
        log.error("failed to parse Via header")
        return FAILED
    try:
        headers = msg.headers
    except SipParseError:
        return _refused(msg, reject, 400, "Bad Headers")
    seen = set()
    for hf in headers:
        if hf.key in ("from", "to", "call-id", "cseq"):
            if hf.key in seen:
                log.debug("duplicated %s header", hf.name)
                return FAILED
            seen.add(hf.key)
    return PASSED


def via1_header(msg, reject) -> int:
    try:
        via = msg.via1
    except SipParseError:
        return _no_reply(msg)
    if not via.host or not via.branch:
        return _no_reply(msg)
    return PASSED


def rfc3261_compliance(msg, reject) -> int:
    try:
        branch = msg.via1.branch or ""
    except SipParseError:
        return _no_reply(msg)
    if not branch.startswith("z9hG4bK"):
        log.warning("Via1 branch parameter does not start with the magic cookie")
        return FAILED
    for name in ("record-route", "route"):
        try:
            for na in msg.nameaddr_list(name):
                if not na.parsed_uri.has_param("lr"):
                    log.warning("missing lr parameter in %s URI", name)
                    return FAILED
        except SipParseError:
            return FAILED
    return PASSED


def _cseq_words(msg):
    """The CSeq body split at white space, None when there is no CSeq."""
    hf = msg.get_header("cseq")
    return None if hf is None else hf.value.split()


def cseq_method(msg, reject) -> int:
    parts = _cseq_words(msg)
    if parts is None:
        return _no_reply(msg)
    if len(parts) < 2:
        return _refused(msg, reject, 400, "Missing method in CSeq header")
    if msg.type == REQUEST and parts[1] != msg.method:
        return _refused(msg, reject, 400, "CSeq method does not match request method")
    return PASSED


def cseq_value(msg, reject) -> int:
    parts = _cseq_words(msg)
    if parts is None:
        return _no_reply(msg)
    if not parts:
        return _refused(msg, reject, 400, "Missing number in CSeq header")
    number = parts[0]
    # Kamailio's str2valid_uint: at most 10 digits, and up to 4294967296 (its bound
    # is compared inclusively, so 2^32 itself passes)
    if not (number.isdigit() and number.isascii()) or len(number) > 10 or int(number) > 1 << 32:
        return _refused(msg, reject, 400, "CSeq number is illegal")
    return PASSED


def content_length(msg, reject) -> int:
    hf = msg.get_header("content-length")
    if hf is None:
        if msg.rcv.proto not in (PROTO_UDP, PROTO_SCTP):
            log.warning("content length header missing in request")
        return PASSED
    try:
        value = msg.content_length
    except SipParseError:
        return _refused(msg, reject, 400, "Content-Length Failure")
    if len(msg.data) - msg.body_start != value:
        return _refused(msg, reject, 400, "Content-Length mis-match")
    return PASSED


def expires_value(msg, reject) -> int:
    hf = msg.get_header("expires")
    if hf is None:
        return PASSED
    text = hf.value.strip()
    if not text:
        return _refused(msg, reject, 400, "Missing number in Expires header")
    if not (text.isdigit() and text.isascii()) or int(text) >= 1 << 32:
        return _refused(msg, reject, 400, "Expires value is illegal")
    return PASSED


def proxy_require(msg, reject, supported: frozenset) -> int:
    headers = msg.get_headers("proxy-require")
    if not headers:
        return PASSED
    for hf in headers:
        try:
            tokens = split_tokens(hf.value)
        except SipParseError:
            return _refused(msg, reject, 400, "Bad Proxy Require Header")
        for token in tokens:
            if token not in supported:
                log.debug("request contains unsupported extension: %s", token)
                if msg.reply_lumps is None:
                    msg.reply_lumps = []
                msg.reply_lumps.append(f"Unsupported: {token}\r\n")
                return _refused(msg, reject, 420, "Bad Proxy Require Extension")
    return PASSED


def parse_uris(msg, reject, uri_checks: int) -> int:
    if uri_checks & URI_RURI and msg.type == REQUEST:
        try:
            _ = msg.parsed_ruri
        except SipParseError:
            return _refused(msg, reject, 400, "Bad Request URI")
    for bit, name, reason in ((URI_FROM, "from", "Invalid From Header"), (URI_TO, "to", "Invalid To Header")):
        if uri_checks & bit:
            hf = msg.get_header(name)
            if hf is None or not hf.value:
                return _no_reply(msg)
            try:
                _ = parse_nameaddr(hf.value).parsed_uri
            except SipParseError:
                return _refused(msg, reject, 400, reason)
    if uri_checks & URI_CONTACT and msg.get_header("contact") is not None:
        try:
            contacts = msg.contacts
        except SipParseError:
            return _refused(msg, reject, 400, "Bad Contact Header")
        if not contacts.star and len(contacts):
            try:
                parse_uri(contacts.contacts[0].uri)
            except SipParseError:
                return _refused(msg, reject, 400, "Bad Contact URI")
    return PASSED


NOT_APPLICABLE = -2


def _digest_only(msg, reject) -> int:
    for name in ("authorization", "proxy-authorization"):
        for hf in msg.get_headers(name):
            scheme = hf.value.split(None, 1)[0] if hf.value.strip() else ""
            if scheme.lower() != "digest":
                return NOT_APPLICABLE
            try:
                cred = msg.credentials(name)[msg.get_headers(name).index(hf)]
            except SipParseError:
                return _refused(msg, reject, 400, "Bad Auth Header")
            if cred.get("username") is None or cred.get("realm") is None or cred.get("nonce") is None \
                    or cred.get("uri") is None or cred.get("response") is None:
                return _refused(msg, reject, 400, "Bad Auth Credentials")
            if not cred.get("username"):
                return _refused(msg, reject, 400, "Auth Empty User")
            if not cred.get("nonce"):
                return _refused(msg, reject, 400, "Auth Empty Nonce")
            if not cred.get("response"):
                return _refused(msg, reject, 400, "Auth Empty Response")
    return PASSED


def digest(msg, reject) -> int:
    return PASSED if _digest_only(msg, reject) == PASSED else FAILED


def authorization(msg, reject) -> int:
    return PASSED if _digest_only(msg, reject) in (PASSED, NOT_APPLICABLE) else FAILED


def duptags(msg, reject) -> int:
    for name, reason in (("from", "Many From Tag Params"), ("to", "Many To Tag Params")):
        hf = msg.get_header(name)
        if hf is None:
            return _no_reply(msg)
        try:
            params = parse_nameaddr(hf.value).params
        except SipParseError:
            return _no_reply(msg)
        if sum(1 for n, _ in params if n.lower() == "tag") > 1:
            return _refused(msg, reject, 400, reason)
    return PASSED
