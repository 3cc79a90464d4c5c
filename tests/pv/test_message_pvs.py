import pytest
from pv_test_messages import make_msg

from kamapy.pv import parse_pv


def get(text, m):
    return parse_pv(text).get(m)


@pytest.mark.parametrize("text,value", [
    ("$rm", "INVITE"),
    ("$rmid", 1),
    ("$rs", None),
    ("$rr", None),
    ("$rv", "SIP/2.0"),
    ("$ci", "a84b4c76e66710@pc33.atlanta.example.com"),
    ("$cs", "314159"),
    ("$csb", "314159 INVITE"),
    ("$ua", "TestPhone/1.0"),
    ("$cT", "application/sdp"),
    ("$cl", 14),
    ("$bs", 14),
    ("$rb", "v=0\r\no=x 1 1\r\n"),
    ("$ct", "<sip:alice@192.0.2.4:5062;transport=udp>;expires=60"),
    ("$ctu", "sip:alice@192.0.2.4:5062;transport=udp"),
    ("$cts", 0),
    ("$mt", 1),
    ("$mts", "rq"),
    ("$ai", "sip:+15551234@atlanta.example.com"),
    ("$(ai[1])", "tel:+15551234"),
    ("$(ai[2])", None),
    ("$rt", None),
])
def test_request_pvs(msg, text, value):
    assert get(text, msg) == value


def test_message_buffer_and_length(msg):
    assert get("$mb", msg) == msg.text
    assert get("$ml", msg) == len(msg.data)


def test_reply_pvs(reply):
    assert get("$rs", reply) == 180
    assert get("$rr", reply) == "Ringing"
    assert get("$rm", reply) == "INVITE"  # the CSeq method
    assert get("$ru", reply) is None
    assert get("$rU", reply) is None
    assert get("$mt", reply) == 2
    assert get("$cl", reply) == 0
    assert get("$ct", reply) is None
    assert get("$ua", reply) is None


@pytest.mark.parametrize("text,value", [
    ("$hdr(Via)", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK111;rport"),
    ("$hdr(v)", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK111;rport"),
    ("$(hdr(Via)[1])", "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK222"),
    ("$hdr(Via)[1]", "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK222"),
    ("$(hdr(Via)[-1])", "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK333"),
    ("$(hdr(Via)[-3])", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK111;rport"),
    ("$(hdr(Via)[3])", None),
    ("$(hdr(Via)[-4])", None),
    ("$hdr(x-custom)", "First"),
    ("$(hdr(X-Custom)[*])", "First,Second"),
    ("$hdr(X-Missing)", None),
    ("$hdrc(Via)", 3),
    ("$hdrc(X-Custom)", 2),
    ("$hdrc(X-Missing)", 0),
    ("$hdr(*)", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK111;rport"),
])
def test_header_pvs(msg, text, value):
    assert get(text, msg) == value


def test_header_name_from_pv(msg):
    parse_pv("$var(h)").set(msg, "User-Agent")
    assert get("$hdr($var(h))", msg) == "TestPhone/1.0"
    assert get("$hdrc($var(h))", msg) == 1
    parse_pv("$var(i)").set(msg, 2)
    assert get("$(hdr(Via)[$var(i)])", msg) == "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK333"


def test_from_to_pvs(msg):
    assert get("$fu", msg) == "sip:alice@atlanta.example.com"
    assert get("$from", msg) == "sip:alice@atlanta.example.com"
    assert get("$fU", msg) == "alice"
    assert get("$fd", msg) == "atlanta.example.com"
    assert get("$fn", msg) == '"Alice Smith"'
    assert get("$ft", msg) == "1928301774"
    assert get("$fUl", msg) == 5
    assert get("$tu", msg) == "sip:bob@biloxi.example.com"
    assert get("$tU", msg) == "bob"
    assert get("$td", msg) == "biloxi.example.com"
    assert get("$tn", msg) == "Bob"
    assert get("$tt", msg) is None
    assert get("$tts", msg) == 0


def test_missing_from_reads_null():
    m = make_msg("OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n")
    for name in ("$fu", "$fU", "$ft", "$tu", "$ci", "$cs", "$rb"):
        assert get(name, m) in (None, "")


def test_socket_pvs(msg, tcp_msg):
    assert get("$si", msg) == "192.0.2.4"
    assert get("$sp", msg) == 5062
    assert get("$Ri", msg) == "198.51.100.1"
    assert get("$Rp", msg) == 5060
    assert get("$pr", msg) == "udp"
    assert get("$proto", tcp_msg) == "tcp"
    assert get("$prid", tcp_msg) == 2
    assert get("$su", msg) == "sip:192.0.2.4:5062"
    assert get("$su", tcp_msg) == "sip:192.0.2.4:5062;transport=tcp"
    assert get("$sut", msg) == "sip:192.0.2.4:5062;transport=udp"
    assert get("$Ru", msg) == "sip:198.51.100.1:5060"
    v6 = make_msg(src_ip="2001:db8::1")
    assert get("$si", v6) == "2001:db8::1"
    assert get("$siz", v6) == "[2001:db8::1]"


def test_auth_pvs(msg):
    assert get("$au", msg) == "alice"
    assert get("$ad", msg) == "atlanta.example.com"
    assert get("$aU", msg) == "alice@atlanta.example.com"
    assert get("$ar", msg) == "atlanta.example.com"
    assert get("$adu", msg) == "sip:bob@biloxi.example.com"
    assert get("$aa", msg) == "MD5"
    assert get("$adn", msg) == "abc123"
    assert get("$adr", msg) == "0123456789abcdef"
    assert get("$adc", msg) == "0a4f113b"
    assert get("$ado", msg) == "5ccc069c"
    assert get("$au", make_msg("OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n")) is None


def test_from_to_writes_go_through_lumps():
    from kamapy.sip.outgoing import build_message

    m = make_msg()
    assert parse_pv("$fU").set(m, "carol") is None
    assert parse_pv("$tu").set(m, "sip:dave@d.example") is None
    out = build_message(m).decode("latin-1")
    assert 'From: "Alice Smith" <sip:carol@atlanta.example.com>;tag=1928301774\r\n' in out
    assert "To: Bob <sip:dave@d.example>\r\n" in out
    assert get("$fU", m) == "alice"  # reads keep the received value, as in Kamailio
    m2 = make_msg()
    parse_pv("$fd").set(m2, "other.example")
    assert "<sip:alice@other.example>" in build_message(m2).decode("latin-1")
