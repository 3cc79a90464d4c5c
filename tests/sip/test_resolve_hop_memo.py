"""forward.resolve_hop remembers the answer for an IP-address next hop (_ip_hops): the
memo must give what resolving gives, for every shape of URI, and step aside when the
blocklist is on (each send then asks it)."""

import pytest

from kamapy import dns
from kamapy.net import forward
from kamapy.sip.msg import RecvInfo, SipMsg

URIS = [
    "sip:bob@127.0.0.1", "sip:bob@127.0.0.1:5070", "sip:127.0.0.1:5070;transport=UDP",
    "sip:127.0.0.1:5071;transport=tcp", "sips:bob@127.0.0.1", "sip:bob@[::1]:5080",
    "sip:bob@example.invalid;maddr=127.0.0.2", "sip:127.0.0.1;transport=TLS", "sip:bob@10.1.2.3:5062;lr",
]


def _msg(ruri, du=None):
    data = (f"ACK {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5099;branch=z9hG4bK1\r\n"
            "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
    m = SipMsg(data, RecvInfo("127.0.0.9", 5099))
    m.dst_uri = du
    return m


@pytest.mark.parametrize("uri", URIS)
@pytest.mark.parametrize("as_du", [False, True])
def test_memo_answers_what_resolving_gives(uri, as_du):
    forward._ip_hops.clear()
    m = (lambda: _msg("sip:other@127.0.0.5", uri)) if as_du else (lambda: _msg(uri))
    first = forward.resolve_hop(m())
    assert forward._ip_hops.get(uri) == first  # every URI here routes to an address
    assert forward.resolve_hop(m()) == first
    forward._ip_hops.clear()
    assert forward.resolve_hop(m()) == first


def test_blocklist_on_asks_the_resolver(monkeypatch):
    forward._ip_hops.clear()
    forward.resolve_hop(_msg("sip:bob@127.0.0.1:5070"))
    forward._ip_hops["sip:bob@127.0.0.1:5070"] = ("udp", "127.0.0.1", "127.0.0.99", 1, 2)  # a wrong memo
    assert forward.resolve_hop(_msg("sip:bob@127.0.0.1:5070"))[2] == "127.0.0.99"
    monkeypatch.setattr(dns.state().settings, "use_blocklist", 1)
    assert forward.resolve_hop(_msg("sip:bob@127.0.0.1:5070"))[2] == "127.0.0.1"
    forward._ip_hops.clear()


def test_a_name_is_not_remembered():
    forward._ip_hops.clear()
    try:
        forward.resolve_hop(_msg("sip:bob@localhost:5070"))
    except OSError:
        pass
    assert "sip:bob@localhost:5070" not in forward._ip_hops
