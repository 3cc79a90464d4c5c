import pytest

from kamapy.sip.contact import parse_contact_value
from kamapy.sip.cseq import parse_cseq
from kamapy.sip.digest import parse_digest
from kamapy.sip.errors import SipParseError
from kamapy.sip.nameaddr import parse_nameaddr, parse_to_body
from kamapy.sip.uri import parse_uri
from kamapy.sip.via import parse_via


@pytest.mark.parametrize("text,scheme,user,password,host,port,params,headers", [
    ("sip:alice@example.com", "sip", "alice", None, "example.com", None, [], ""),
    ("sips:alice:secret@example.com:5061;transport=tcp;lr?subject=x&priority=urgent",
     "sips", "alice", "secret", "example.com", 5061, [("transport", "tcp"), ("lr", None)],
     "subject=x&priority=urgent"),
    ("sip:[2001:db8::1]:5070;maddr=10.0.0.1", "sip", "", None, "[2001:db8::1]", 5070,
     [("maddr", "10.0.0.1")], ""),
    ("SIP:Bob%20Smith@Host.Example.COM", "sip", "Bob%20Smith", None, "Host.Example.COM", None, [], ""),
    ("sip:+1555;npdi;rn=+1556@gw.example.com;user=phone", "sip", "+1555;npdi;rn=+1556", None,
     "gw.example.com", None, [("user", "phone")], ""),
    ("tel:+14155551212;phone-context=example.com", "tel", "+14155551212", None, "", None,
     [("phone-context", "example.com")], ""),
    ("sip:10.0.0.1", "sip", "", None, "10.0.0.1", None, [], ""),
    # urn: Kamailio's parser reads NID:NSS as user:host when NSS is not a port
    # (checked on the wire: receive/ruri-scheme-urn), else as a SIP URI
    ("urn:service:sos", "urn", "service", None, "sos", None, [], ""),
    ("urn:service:sos.fire-x", "urn", "service", None, "sos.fire-x", None, [], ""),
    ("urn:foo", "urn", "", None, "foo", None, [], ""),
    ("urn:x@y", "urn", "x", None, "y", None, [], ""),
    ("urn:service:123", "urn", "", None, "service", 123, [], ""),
])
def test_parse_uri(text, scheme, user, password, host, port, params, headers):
    u = parse_uri(text)
    assert (u.scheme, u.user, u.password, u.host, u.port, u.params, u.headers) == (
        scheme, user, password, host, port, params, headers)
    assert str(u) == text
    assert u.replace() == text or text.startswith("SIP:")


def test_uri_helpers_and_replace():
    u = parse_uri("sip:bob%40home@example.com:5080;transport=TLS;lr")
    assert u.user_unescaped == "bob@home" and u.transport == "tls" and u.param("lr") == ""
    assert u.param("nope") is None
    assert u.replace(user="carol") == "sip:carol@example.com:5080;transport=TLS;lr"
    assert u.replace(host="10.0.0.9", port=None) == "sip:bob%40home@10.0.0.9;transport=TLS;lr"
    assert u.replace(user="") == "sip:example.com:5080;transport=TLS;lr"
    assert u.replace(port=5090, params=[("x", "1")]) == "sip:bob%40home@example.com:5090;x=1"
    assert parse_uri("sip:example.com").replace(user="alice") == "sip:alice@example.com"
    with pytest.raises(TypeError):
        u.replace(nonsense=1)


@pytest.mark.parametrize("bad", ["", "alice@example.com", "http://x", "sip:", "sip:@host",
                                 "sip:a@[::1", "sip:a@host:99999", "sip:a@host:x", "sip:a@ho st",
                                 "sip:a@[zz]", "sip:a@host:", "foo:bar@host", "urn:a:b:c",
                                 "URN:nena:service:sos", "urn:service:sos;p=1"])
def test_bad_uri(bad):
    with pytest.raises(SipParseError):
        parse_uri(bad)


def test_nameaddr_forms():
    n = parse_nameaddr('"A \\"B\\"" <sip:a@b;lr>;tag=x;foo')
    assert n.display_name == 'A "B"' and n.uri == "sip:a@b;lr" and n.tag == "x"
    assert n.param("foo") == "" and n.bracketed
    n = parse_nameaddr("sip:a@b;tag=x")
    assert n.uri == "sip:a@b" and n.tag == "x" and not n.bracketed
    assert parse_nameaddr("Bob <sip:b@c>").display == "Bob"
    assert parse_nameaddr("<sip:b@c>;tag").tag is None
    for bad in ["", "<sip:a@b", '"unterminated <sip:a@b>', "<sip:a@b> junk", "<>"]:
        with pytest.raises(SipParseError):
            parse_nameaddr(bad)


# Kamailio's To/From body parser, each checked on the wire against 5.6.3 ($fu/$ft of a
# From like this; receive/torture-24, torture-25, value-nul-in-from)
@pytest.mark.parametrize("bad", [
    "<sip:a@b>;tag=f1;", "<sip:a@b>;;tag=f1", "<sip:a@b>; ;tag=f1", "<sip:a@b>;=x",
    "<sip:a@b>;tag=f1;x=a,b", "<sip:a@b>;tag=f1 x", "<sip:a@b ;x>;tag=f1",
    "<sip:caller@exa mple.com>;tag=98asjd8", "<sip:a@1.2.\x003.4>;tag=f1",
    '"a\x00b" <sip:a@b>;tag=f', "sip:j.user@example.com;tag=;;,;", '<sip:a@b>;x="q"z',
])
def test_to_body_refuses(bad):
    with pytest.raises(SipParseError):
        parse_to_body(bad)
    if bad in ("<sip:a@b>;tag=f1;", "<sip:a@b>;;tag=f1", "<sip:a@b>;tag=f1;x=a,b"):
        parse_nameaddr(bad)  # the general name-addr reading (Route, Path ...) stays lenient


@pytest.mark.parametrize("text,uri,tag", [
    ("<sip:a@b>;tag=f1;x=", "sip:a@b", "f1"),
    ("<sip:a@b>;x=;tag=f1", "sip:a@b", "f1"),
    ("<sip:a@b>;tag=f,1", "sip:a@b", "f,1"),  # a ',' is kept in the tag only
    ("<sip:a@b>;tag = f1", "sip:a@b", "f1"),
    ("< sip:a@b >;tag=f1", "sip:a@b", "f1"),
    ('<sip:a@b>;x="a;b";tag=f1', "sip:a@b", "f1"),
    ("<sip:a@b>;tag=f\x001", "sip:a@b", "f"),  # a NUL after a value ends the body
    ("sip:a@b\x00;tag=f1", "sip:a@b", None),
])
def test_to_body_accepts(text, uri, tag):
    n = parse_to_body(text)
    assert (n.uri, n.tag) == (uri, tag)


def test_contact_star_and_list():
    assert parse_contact_value(" * ") == (True, [])
    star, cs = parse_contact_value('<sip:a@b>;expires=10, "x,y" <sip:c@d>;q=0.1')
    assert not star and [c.expires for c in cs] == [10, None] and cs[1].q == 0.1


def test_via_params_and_offsets():
    text = "SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKa;received=5.6.7.8;rport=999;maddr=224.0.0.1;ttl=16"
    v = parse_via(text)[0]
    assert (v.branch, v.received, v.rport, v.maddr, v.ttl) == ("z9hG4bKa", "5.6.7.8", "999",
                                                               "224.0.0.1", "16")
    s, e = v.param_span("received")
    assert text[s:e] == "received=5.6.7.8"
    assert text[:v.sent_by_end].endswith("1.2.3.4:5060")
    v = parse_via("SIP/2.0/UDP host")[0]
    assert v.rport is None and v.port is None and v.params == []
    for bad in ["", "SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP host:", "SIP/2.0/UDP host:70000",
                "SIP/2.0/UDP [::1", "SIP/2.0/UDP h;=x", "SIP/2.0/UDP ho<st"]:
        with pytest.raises(SipParseError):
            parse_via(bad)


def test_cseq_and_digest():
    c = parse_cseq(" 4711   REGISTER ")
    assert c.num == 4711 and c.method == "REGISTER"
    for bad in ["", "1", "1 INVITE extra", "1\r\n INVITE", "1 INV<ITE"]:
        with pytest.raises(SipParseError):
            parse_cseq(bad)
    # Kamailio takes any token as the number (sanity_check is what refuses it)
    for number, num in [("eight", None), ("-1", None), ("99999999999", None), ("4294967296", 4294967296)]:
        c = parse_cseq(f"{number} INVITE\r\n ")
        assert (c.number, c.num, c.method) == (number, num, "INVITE")
    d = parse_digest('Digest realm="a, b", nonce="n", qop="auth,auth-int", stale=FALSE')
    assert d.realm == "a, b" and d.qop == "auth,auth-int" and d.stale == "FALSE"
    assert d.username is None
    with pytest.raises(SipParseError):
        parse_digest("Digest realm")
