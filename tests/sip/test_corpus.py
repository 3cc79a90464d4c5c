"""Every corpus message round-trips and its typed bodies read right."""

import pytest

from kamapy.sip.msg import REPLY, REQUEST, RecvInfo, SipMsg
from kamapy.sip.outgoing import build_message, build_request
from kamapy.sip.receive_checks import parse_received
from tests.sip.corpus import CORPUS, INVITE_SDP, SDP


def every_accessor(m: SipMsg):
    """Touch every typed accessor (what the fuzz tests also do)."""
    out = [m.headers, m.vias, m.via1, m.via2, m.from_hdr, m.to_hdr, m.callid, m.cseq,
           m.contacts, m.content_length, m.content_type, m.expires, m.max_forwards,
           m.route_set, m.record_routes, m.paths, m.event, m.supported, m.require, m.allow,
           m.credentials("authorization"), m.credentials("proxy-authorization"), m.sdp,
           m.from_hdr.parsed_uri, m.to_hdr.parsed_uri, m.body]
    for c in m.contacts:
        out += [c.parsed_uri, c.expires, c.q, c.instance, c.reg_id]
    for r in m.route_set + m.record_routes:
        out.append(r.parsed_uri)
    if m.type == REQUEST:
        out.append(m.parsed_ruri)
    return out


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_round_trip_without_lumps(name):
    data = CORPUS[name]
    m = SipMsg(data, RecvInfo("192.0.2.1", 5060))
    assert build_message(m) == data
    if m.type == REQUEST:
        assert build_request(m) == data


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_accessor_parses(name):
    m = parse_received(CORPUS[name], RecvInfo("192.0.2.1", 5060))
    every_accessor(m)


def test_invite_fields():
    m = SipMsg(INVITE_SDP)
    assert m.type == REQUEST and m.method == "INVITE"
    assert m.via1.transport == "UDP" and m.via1.host == "192.168.1.20" and m.via1.port == 5060
    assert m.via1.rport == "" and m.via1.branch == "z9hG4bK-524287-1---e6b6a1a95ee3c1b0"
    assert m.via2 is None
    assert m.from_hdr.display == '"Alice Liddell"' and m.from_hdr.display_name == "Alice Liddell"
    assert m.from_hdr.tag == "9fxced76sl" and m.to_hdr.tag is None
    assert m.cseq.num == 1 and m.cseq.method == "INVITE"
    assert m.content_length == len(SDP) == len(m.body)
    assert m.content_type.mime == "application/sdp"
    assert m.max_forwards == 70
    assert m.allow[:3] == ["INVITE", "ACK", "CANCEL"]
    assert "outbound" in m.supported
    c = m.contacts.contacts[0]
    assert c.instance == "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"
    assert c.parsed_uri.transport == "udp"
    assert m.parsed_ruri.user == "bob" and m.parsed_ruri.host == "biloxi.example.com"
    assert m.get_header("user-agent").value == "Z 5.4.12 v2.10.13.2"


def test_register_contacts_and_digest():
    m = SipMsg(CORPUS["register_multi"])
    cs = m.contacts
    assert not cs.star and len(cs) == 3
    a, b, c = cs.contacts
    assert a.expires == 600 and a.q == 0.9 and a.reg_id == 1
    assert a.instance == "<urn:uuid:5a8b1c2d-0000-4000-8000-0123456789ab>"
    assert b.parsed_uri.host == "[2001:db8::5]" and b.parsed_uri.port == 5060 and b.expires == 3600
    assert c.display == '"Desk, phone"' and c.expires == 0 and c.methods == "INVITE, MESSAGE"
    assert c.parsed_uri.param("ob") == ""
    assert m.expires == 3600
    assert m.to_hdr.uri == "sip:1001@example.com" and not m.to_hdr.bracketed
    d = m.credentials()[0]
    assert d.scheme == "Digest" and d.username == "1001" and d.realm == "example.com"
    assert d.nonce == "Y1X2ZWFkYmVlZg==" and d.qop == "auth" and d.nc == "00000001"
    assert d.algorithm == "MD5" and d.cnonce == "0a4f113b" and d.uri == "sip:example.com"
    assert d.response == "6629fae49393a05397450978507c4ef1"
    assert m.via1.param("alias") == "" and m.via1.transport == "TCP"


def test_compact_forms_and_multi_via_header():
    m = SipMsg(CORPUS["compact"])
    assert [v.host for v in m.vias] == ["pc33.atlanta.example.com", "proxy1.example.com", "10.1.1.1"]
    assert m.via2.port == 5070 and m.vias[2].received == "10.1.1.2"
    assert m.to_hdr.display == "Carol" and m.from_hdr.tag == "1928301774"
    assert m.callid == "a84b4c76e66710@pc33.atlanta.example.com"
    assert m.supported == ["100rel"] and m.content_length == 0
    assert m.get_header("Call-ID").name == "i"
    assert len(m.get_headers("via")) == 2
    # offsets of each via point into msg.text
    for v in m.vias:
        assert m.text[v.start:v.end] == v.text


def test_ipv6():
    m = SipMsg(CORPUS["ipv6"])
    u = m.parsed_ruri
    assert u.host == "[2001:db8::10]" and u.host_bare == "2001:db8::10" and u.port == 5070
    assert u.transport == "udp"
    assert m.via1.host == "[2001:db8::9]" and m.via1.port == 5060
    assert [r.parsed_uri.host for r in m.route_set] == ["[2001:db8::1]", "edge.example.com"]
    assert m.route_set[1].parsed_uri.transport == "tcp"


def test_folded_headers():
    m = SipMsg(CORPUS["folded"])
    assert m.via1.branch == "z9hG4bKfold1" and m.via1.rport == ""
    assert m.from_hdr.display == "Watcher" and m.from_hdr.tag == "w1"
    assert m.callid == "fold-call-1@192.0.2.4"
    assert m.cseq.num == 5 and m.cseq.method == "SUBSCRIBE"
    assert m.event.name == "presence" and m.event.id == "17"
    assert m.get_header("from").value == "Watcher <sip:watcher@example.com>;tag=w1"
    assert m.expires == 1800


def test_odd_spacing():
    m = SipMsg(CORPUS["odd_spacing"])
    v = m.via1
    assert v.protocol == "SIP/2.0" and v.host == "198.51.100.7" and v.port == 5080
    assert v.branch == "z9hG4bKodd" and v.rport == ""
    assert m.from_hdr.tag == "odd1"
    assert m.to_hdr.display_name == 'Quoted "name", with comma'
    assert m.body == "hello" and m.content_type.param("charset") == "UTF-8"
    assert m.max_forwards == 10


def test_replies():
    m = SipMsg(CORPUS["ringing_fork1"])
    assert m.type == REPLY and m.status == 180 and m.reason == "Ringing"
    assert m.to_hdr.tag == "fork-a-314" and m.via2.received == "198.51.100.1"
    assert m.via2.rport == "5060"
    assert m.record_routes[0].parsed_uri.param("ftag") == "9fxced76sl"
    m2 = SipMsg(CORPUS["ok_fork2"])
    assert m2.to_hdr.tag == "fork-b-271" and len(m2.vias) == 2
    assert m2.sdp.connection.address == "192.0.2.200"


def test_tel_uri():
    m = SipMsg(CORPUS["bye_tel"])
    u = m.parsed_ruri
    assert u.scheme == "tel" and u.user == "+14155551212" and u.param("phone-context") == "example.com"
    assert m.to_hdr.parsed_uri.param("user") == "phone"
    assert m.via1.transport == "TLS" and m.via1.port == 5061


def test_lf_only_message():
    data = CORPUS["options"].replace(b"\r\n", b"\n")
    m = SipMsg(data)
    assert m.callid == "1j9FpLxk3uxtm8tn@monitor.example.net" and m.via1.port == 5062
    assert build_message(m) == data
