"""The alias functions of Kamailio 5.6 nathelper: add_contact_alias(),
set_contact_alias(), handle_ruri_alias(), set_alias_to_pv().

The Contact URI parameter `;alias=<ip>~<port>~<proto id>` (name from the alias_name
modparam) records where a request really came from; a later in-dialog request whose
R-URI carries it is sent there by handle_ruri_alias().
"""

from __future__ import annotations

import logging

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import anchor_lump, del_lump, insert_after, insert_before
from kamapy.sip.msg import PROTO_NAMES

from . import private
from .contact_uri import first_contact, hostport_end, mark_rewritten, rewritten, uri_proto

log = logging.getLogger("kamapy.nathelper")

NAME = {"alias": "alias=", "salias": ";alias="}

_PROTO_BY_NAME = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


def set_name(name: str):
    NAME["alias"] = name + "="
    NAME["salias"] = ";" + name + "="


def _src_param(msg) -> str:
    rcv = msg.rcv
    ip = f"[{rcv.src_ip}]" if rcv.af == 6 else rcv.src_ip
    return f"{NAME['salias']}{ip}~{rcv.src_port}~{rcv.proto}"


def _insert_param(msg, fc, param: str):
    """Kamailio puts the alias right after host[:port] and, when the Contact header
    has no '<' at all, wraps from the start of the header body to there in <>."""
    text = msg.text
    bracket = text.find("<", fc.body_start, fc.body_end) >= 0
    if not bracket:
        insert_before(anchor_lump(msg, fc.body_start, "contact"), "<", "contact")
        param += ">"
    at = fc.uri_start + hostport_end(fc.uri)
    insert_after(anchor_lump(msg, at, "contact"), param, "contact")


def _aliased_contact(msg):
    """(_, first Contact) to put an alias on; (2, None) without a Contact header,
    (-1, None) when the first one does not parse."""
    if msg.get_header("contact") is None:
        return 2, None
    fc = first_contact(msg)
    if fc is None:
        log.error("failed to get contact uri")
        return -1, None
    return 0, fc


def add_contact_alias(msg) -> int:
    code, fc = _aliased_contact(msg)
    if fc is None:
        return code
    uri = fc.uri
    ip = private.parse_ip(uri.host)
    if ip is not None:
        rcv = msg.rcv
        same_port = rcv.src_port == uri.port or (not uri.port_str and rcv.src_port == 5060)
        # Kamailio compares the URI's ;transport (none: PROTO_NONE) with the received
        # proto, so a URI without ;transport=udp always gets the alias over UDP
        if ip == private.parse_ip(rcv.src_ip) and same_port and uri_proto(uri) == rcv.proto:
            return 2
    if rewritten(msg):
        log.error("you can't call add_contact_alias twice, check your config!")
        return -1
    _insert_param(msg, fc, _src_param(msg))
    return 1


def add_contact_alias_3(msg, ip: str, port: str, proto: str) -> int:
    code, fc = _aliased_contact(msg)
    if fc is None:
        return code
    if private.parse_ip(ip) is None:
        log.error("ip param value %s is not valid IP address", ip)
        return -1
    if not (port.isdigit() and port.isascii()) or not 0 < int(port) <= 65535:
        log.error("port param value is not valid port")
        return -1
    pid = _PROTO_BY_NAME.get(proto.lower())
    if pid is None:
        log.error("proto param value %s is not a known protocol", proto)
        return -1
    if rewritten(msg):
        log.error("you can't call alias_contact twice, check your config!")
        return -1
    _insert_param(msg, fc, f"{NAME['salias']}{ip}~{port}~{pid}")
    return 1


def w_add_contact_alias(msg, ip=None, port=None, proto=None) -> int:
    if ip is None and port is None and proto is None:
        return add_contact_alias(msg)
    if ip is None or port is None or proto is None:
        log.error("add_contact_alias takes no parameter or three")
        return -1
    return add_contact_alias_3(msg, ip, port, proto)


# ------------------------------------------------------------------ set_contact_alias

def trim_alias(uri: str) -> str | None:
    """uri without its last well-formed ;alias=ip~port~p parameter, or None when it has
    none (Kamailio uri_trim_rcv_alias)."""
    salias = NAME["salias"]
    n = len(uri)
    if n < len(salias) + 16:
        return None
    p = n - len(salias) - 11
    skip = -1
    while p > 5:
        if uri.startswith(salias, p):
            skip = p
            break
        p -= 1
    if skip < 0:
        return None
    ip_s = skip + len(salias)
    t1 = uri.find("~", ip_s)
    if t1 < 0 or t1 + 1 >= n:
        return None
    t2 = uri.find("~", t1 + 1)
    if t2 < 0 or t2 + 1 >= n:
        return None
    after = t2 + 2  # jump over the one-character proto
    if after != n and (after > n or uri[after] != ";"):
        return None
    return uri[:skip] + uri[after:]


def set_contact_alias(msg, trim: int = 0) -> int:
    fc = first_contact(msg)
    if fc is None:
        return -1
    if rewritten(msg):
        log.error("you can't update contact twice, check your config!")
        return -1
    base = fc.uri.text
    if trim > 0:
        trimmed = trim_alias(base)
        if trimmed is not None:
            base = trimmed
    nuri = base + _src_param(msg)
    bracketed = fc.uri_start > 0 and msg.text[fc.uri_start - 1] == "<"
    new = nuri if bracketed else f"<{nuri}>"
    anchor = del_lump(msg, fc.uri_start, fc.uri_end - fc.uri_start, "contact")
    insert_after(anchor, new, "contact")
    mark_rewritten(msg, fc.contact, nuri)
    return 1


def w_set_contact_alias(msg, trim=0) -> int:
    i = int(trim or 0)
    return set_contact_alias(msg, 1 if i > 1 else i)


# ------------------------------------------------------------------ handle_ruri_alias

def handle_ruri_alias(msg, mode: int = 0) -> int:
    """Route to the R-URI's alias: $du = sip:ip:port[;transport=x], the alias
    parameter (the first one, or the last when mode != 0) removed from $ru."""
    try:
        ruri = msg.parsed_ruri
    except SipParseError:
        log.error("while parsing Request-URI")
        return -1
    cur = msg.current_uri
    params = ruri.params_str
    if not params:
        return 2
    # offset of the parameters in the current R-URI text
    pbase = cur.find(";" + params)
    if pbase < 0:
        return -1
    pbase += 1
    alias = NAME["alias"]
    alen = len(alias)
    rest, rest_len = pbase, len(params)
    start = -1
    # the walk and its lengths as Kamailio does them: in "last" mode rest_len is left
    # where the walk ended, which the checks below then use
    while rest_len > alen + 4:
        if cur.startswith(alias, rest):
            start = rest
            if mode == 0:
                break
            rest += alen
            rest_len -= alen
        sep = cur.find(";", rest, rest + rest_len)
        if sep < 0:
            break
        rest_len -= sep - rest + 1
        rest = sep + 1
    if start < 0:
        return 2
    val = start + alen
    val_len = rest_len - alen
    if val_len <= 0:
        log.error("no '~' in alias param value")
        return -1
    t1 = cur.find("~", val, val + val_len)
    if t1 < 0:
        log.error("no '~' in alias param value")
        return -1
    port = t1 + 1
    t2 = cur.find("~", port, val + val_len)
    if t2 < 0:
        log.error("no second '~' in alias param value")
        return -1
    ip_port_len = t2 - val
    hostport = cur[val:t1] + ":" + cur[port:t2]
    alias_len = len(NAME["salias"]) + ip_port_len + 2
    pch = cur[t2 + 1:t2 + 2]
    if ip_port_len + 2 > val_len or pch in (";", "?") or not pch:
        log.error("no proto in alias param")
        return -1
    dst = "sip:" + hostport
    proto = ord(pch) - 48
    if proto != 1:
        name = PROTO_NAMES.get(proto) if 0 <= proto else None
        if not name:
            log.error("unknown proto in alias param")
            return -1
        dst += ";transport=" + name
    nch = cur[t2 + 2:t2 + 3]
    if ip_port_len + 2 < val_len and nch not in (";", "?"):
        log.error("invalid alias param value")
        return -1
    msg.dst_uri = dst
    cut = start - 1
    new = cur[:cut] + cur[cut + alias_len:]
    msg.set_ruri(new)
    return 1


def w_handle_ruri_alias(msg, mode=0) -> int:
    return handle_ruri_alias(msg, int(mode or 0))


# ------------------------------------------------------------------ set_alias_to_pv

def alias_to_uri(contact: str) -> str | None:
    """sip:<ip>:<port>;transport=<proto> from the alias parameter in a contact, or
    None (Kamailio nh_alias_to_uri)."""
    salias = NAME["salias"]
    n = len(contact)
    found = -1
    for i in range(0, n - len(salias) - 5):
        if contact.startswith(salias, i):
            found = i + len(salias)
            break
    if found < 0:
        log.error("Alias sign couldn't be found")
        return None
    t1 = contact.find("~", found)
    if t1 < 0:
        log.error("No alias parameter found for host")
        return None
    host = contact[found:t1]
    if t1 + 1 >= n:
        log.error("Alias port is not set")
        return None
    t2 = contact.find("~", t1 + 1)
    if t2 < 0:
        log.error("Alias sign couldn't be found for proto")
        return None
    port = contact[t1 + 1:t2]
    digits = ""
    for ch in contact[t2 + 1:]:
        if not ch.isdigit():
            break
        digits += ch
    proto = PROTO_NAMES.get(int(digits) if digits else 0, "")
    return f"sip:{host}:{port};transport={proto}"


def set_alias_to_pv(msg, pvname: str) -> int:
    from kamapy.pv import parse_pv

    hf = msg.get_header("contact")
    if hf is None:
        return -1
    try:
        contacts = [c for c in msg.contacts.contacts if c.hf is hf]
    except SipParseError:
        log.error("Couldn't parse Contact Header")
        return -1
    if len(contacts) != 1:
        log.error("Couldn't parse Contact Header")
        return -1
    uri = alias_to_uri(contacts[0].text)
    if uri is None:
        return -1
    try:
        pv = parse_pv(pvname)
    except Exception:  # noqa: BLE001 -- any bad name: Kamailio's pv_cache_get fails
        log.error("Failed to malloc destination pseudo-variable")
        return -1
    if not getattr(pv, "writable", False):
        log.error("Destination pseudo-variable is not writable: [%s]", pvname)
        return -1
    pv.set(msg, uri)
    return 1
