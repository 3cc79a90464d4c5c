"""unregister() and reg_from_user() (Kamailio: registrar save.c unregister, regpv.c)."""

from __future__ import annotations

import time

from kamapy.sip.errors import SipParseError
from kamapy.sip.uri import parse_uri

from .aor import extract_aor
from .errors import RegError


def unregister(msg, d, uri: str = "", ruid: str = "") -> int:
    """unregister(table, uri[, ruid]): 1 removed; -1 bad AOR; -2 failed; -3 not found."""
    if not ruid:
        try:
            aor, _ = extract_aor(uri if uri else msg.to_hdr.uri)
        except (RegError, SipParseError):
            return -1
        try:
            d.delete_urecord(aor)
        except Exception:
            return -2
        return 1
    if uri:
        try:
            aor, _ = extract_aor(uri)
        except RegError:
            return -1
        return 1 if d.delete_contact_by_ruid(aor, ruid) else -3
    for r in d.records():  # no AOR given: find the ruid's owner
        if r.find_ruid(ruid) is not None:
            return 1 if d.delete_contact_by_ruid(r.aor, ruid) else -3
    return -3


def reg_from_user(msg, d, uri: str, mode: int = 0) -> int:
    """1 when msg comes from where one of the AOR's contacts registered from: the
    source IP (and port with mode & 1, protocol with mode & 2) against the contact's
    received address, else its Contact URI."""
    try:
        aor, _ = extract_aor(uri)
    except RegError:
        return -1
    r = d.get_urecord(aor)
    if r is None:
        return -1
    src_ip, src_port, proto = msg.rcv.src_ip, msg.rcv.src_port, msg.rcv.proto
    now = time.time()
    for c in r.contacts:
        if not c.valid(now):
            continue
        try:
            u = parse_uri(c.received or c.contact)
        except SipParseError:
            continue
        if u.host_bare != src_ip:
            continue
        if mode & 1 and (u.port or 5060) != src_port:
            continue
        if mode & 2 and (u.transport or "udp") != {1: "udp", 2: "tcp", 3: "tls", 4: "sctp", 5: "ws",
                                                    6: "wss"}.get(proto, ""):
            continue
        return 1
    return -1
