"""client_nat_test(type): is the sender behind NAT? (Kamailio nat_traversal 5.6 README 5.1)

The type is the sum of the tests to run; the function is true when any one passes:
  1  the first Contact URI's host is a private / shared-space IPv4 address
  2  the packet's source IP or port differs from the top Via's
  4  the top Via's host is a private / shared-space IPv4 address
"""

from __future__ import annotations

import ipaddress
import logging

from kamapy.sip.errors import SipParseError

log = logging.getLogger("kamapy.nat_traversal")

NT_PRIVATE_CONTACT = 1
NT_SOURCE_ADDRESS = 2
NT_PRIVATE_VIA = 4

# the networks the module treats as "behind NAT": RFC 1918, RFC 6598 shared space
# and RFC 7335's 192.0.0.0/29 (the 5.6 module's list)
_NETS = [ipaddress.IPv4Network(n) for n in
         ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/29")]


def is_private(host: str) -> bool:
    """True for an IPv4 literal in one of the networks; a name or IPv6 is not."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if ip.version != 4:
        return False
    return any(ip in n for n in _NETS)


def first_contact(msg):
    """The contact Kamailio's nat_traversal looks at, or None (no Contact, '*', or
    unparsable): the head of the parsed list of the first Contact header, which in
    Kamailio's parser is that header's *last* contact (the differential cases show it)."""
    try:
        contacts = msg.contacts
    except SipParseError:
        log.error("cannot parse the Contact header")
        return None
    if not contacts or contacts.star or not contacts.contacts:
        return None
    first_hf = contacts.contacts[0].hf
    head = contacts.contacts[0]
    for c in contacts.contacts:
        if c.hf is not first_hf:
            break
        head = c
    return head


def test_private_contact(msg) -> bool:
    c = first_contact(msg)
    if c is None:
        return False
    try:
        host = c.parsed_uri.host
    except SipParseError:
        log.error("cannot parse the Contact URI")
        return False
    return bool(host) and is_private(host)


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return False


def test_source_address(msg) -> bool:
    via = msg.via1
    if via is None:
        return False
    # as Kamailio's received_via_test: a received= already in the Via counts as "moved"
    different_ip = via.param("received") is not None or not _same_ip(via.host, msg.rcv.src_ip)
    return different_ip or msg.rcv.src_port != (via.port or 5060)


def test_private_via(msg) -> bool:
    via = msg.via1
    return via is not None and is_private(via.host)


_TESTS = ((NT_PRIVATE_CONTACT, test_private_contact),
          (NT_SOURCE_ADDRESS, test_source_address),
          (NT_PRIVATE_VIA, test_private_via))


def client_nat_test(msg, tests: int) -> int:
    if tests is None:
        log.error("failed to get tests parameter")
        return -1
    for bit, test in _TESTS:
        if tests & bit and test(msg):
            return 1
    return -1
