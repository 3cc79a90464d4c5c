"""fix_contact(): put the packet's source IP:port into the first Contact URI
(Kamailio nat_traversal 5.6 README 5.2)."""

from __future__ import annotations

import logging

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import replace_range

from .nat_tests import first_contact

log = logging.getLogger("kamapy.nat_traversal")


def _host_span(uri: str, host: str, port_str: str) -> tuple[int, int]:
    """(start, end) of host[:port] inside the URI text."""
    colon = uri.find(":")  # past the scheme
    at = uri.find("@", colon + 1)
    # the user part may not hold '@' unescaped, so the host follows the first '@'
    base = at + 1 if at >= 0 and (uri.find(";", colon + 1) < 0 or at < uri.find(";", colon + 1)) else colon + 1
    start = uri.find(host, base)
    if start < 0:
        raise SipParseError("host not found in the Contact URI", None)
    end = start + len(host)
    if port_str:
        end += 1 + len(port_str)
    return start, end


def fix_contact(msg) -> int:
    c = first_contact(msg)
    if c is None:
        return -1
    try:
        u = c.parsed_uri
    except SipParseError:
        log.error("cannot parse the Contact URI")
        return -1
    if not u.host:
        return -1
    rcv = msg.rcv
    ip, port = rcv.src_ip, rcv.src_port
    if u.host == ip and (u.port or 5060) == port:
        return 1  # already the source address: nothing to change
    uri = c.uri
    try:
        hs, he = _host_span(uri, u.host, u.port_str)
    except SipParseError as e:
        log.error("fix_contact: %s", e.reason)
        return -1
    host = f"[{ip}]" if ":" in ip else ip
    new_uri = f"{uri[:hs]}{host}:{port}{uri[he:]}"
    hf = c.hf or msg.get_header("contact")
    vs, _ = msg.raw_value_span(hf)
    start = msg.text.find(uri, vs, hf.end)
    if start < 0:
        log.error("fix_contact: the Contact URI is not in the message")
        return -1
    replace_range(msg, start, start + len(uri), new_uri, "contact")
    # as Kamailio, the parsed contact now reads the new URI too, so a save("location")
    # after fix_contact() stores the address the UA is reachable at
    c.uri = new_uri
    c._parsed_uri = None
    return 1
