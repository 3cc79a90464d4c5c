"""Message and value tests (Kamailio siputils): has_totag, is_request, is_reply,
is_first_hop, is_supported, is_user, is_e164, is_uri_user_e164, is_numeric,
is_alphanum, is_tel_number."""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import REPLY, REQUEST
from kamapy.sip.uri import parse_uri

E164_MAX_LEN = {"value": 16}  # modparam e164_max_len, '+' included


def has_totag(msg) -> int:
    try:
        return 1 if msg.to_tag else -1
    except SipParseError:
        return -1


def is_request(msg) -> int:
    return 1 if msg.type == REQUEST else -1


def is_reply(msg) -> int:
    return 1 if msg.type == REPLY else -1


def is_first_hop(msg, mode: int = 0) -> int:
    """A request with one Via came straight from its UA; a reply whose top
    Record-Route is us (and that did not come from us) is going back to its UA."""
    from kamapy.sip.myself import uri_is_myself

    try:
        if msg.type == REQUEST:
            return 1 if msg.via2 is None else -1
        rrs = msg.record_routes
        if not rrs:
            return 1
        uri = rrs[0].parsed_uri
        if not uri_is_myself(uri):
            return -1
        if mode == 0 and uri.host_bare == msg.rcv.src_ip and (uri.port or 5060) == msg.rcv.src_port:
            return -1
        return 1
    except SipParseError:
        return 1 if msg.type == REQUEST else -1


SUPPORTED_OPTIONS = ("path", "100rel", "timer", "eventlist", "gruu", "outbound", "norefersub",
                     "replaces", "ice", "tdialog")


def supported_option(value) -> str:
    name = str(value).strip().lower()
    if name not in SUPPORTED_OPTIONS:
        raise ValueError(f"unknown option {value!r} (one of {', '.join(SUPPORTED_OPTIONS)})")
    return name


def is_supported(msg, option: str) -> int:
    try:
        return 1 if option in (t.lower() for t in msg.supported) else -1
    except SipParseError:
        return -1


def is_user(msg, user: str) -> int:
    """The user name of the (proxy-)authorization credentials."""
    for name in ("proxy-authorization", "authorization"):
        try:
            creds = msg.credentials(name)
        except SipParseError:
            continue
        for cred in creds:
            if cred.user == user:
                return 1
    return -1


def e164_ok(text: str) -> bool:
    return 3 <= len(text) <= E164_MAX_LEN["value"] and text[0] == "+" and text[1:].isdigit() \
        and text[1:].isascii()


def is_e164(msg, value: str) -> int:
    return 1 if e164_ok(str(value)) else -1


def is_uri_user_e164(msg, value: str) -> int:
    try:
        uri = parse_uri(str(value))
    except SipParseError:
        return -1
    return 1 if e164_ok(uri.user) else -1


def is_numeric(msg, value: str) -> int:
    v = str(value)
    return 1 if v and v.isdigit() and v.isascii() else -1


def is_alphanum(msg, value: str) -> int:
    v = str(value)
    return 1 if v and v.isalnum() and v.isascii() else -1


def is_tel_number(msg, value: str) -> int:
    v = str(value)
    body = v[1:] if v.startswith("+") else v
    return 1 if body and body.isdigit() and body.isascii() else -1
