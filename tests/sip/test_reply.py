from kamapy.sip.msg import RecvInfo, SipMsg
from kamapy.sip.reply import build_reply, crc16_ccitt, init_sl_tags, is_sl_to_tag, reverse_hex, sl_to_tag
from tests.sip.corpus import COMPACT, INVITE_SDP, IPV6, OPTIONS


def reply_lines(data, src=("198.51.100.1", 5070), **kw):
    m = SipMsg(data, RecvInfo(*src))
    return build_reply(m, kw.pop("code", 200), kw.pop("reason", "OK"), **kw).decode().split("\r\n"), m


def test_options_200_shape():
    out, m = reply_lines(OPTIONS, to_tag="abc")
    assert out == [
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bK1701a;rport=5070;received=198.51.100.1",
        "From: <sip:monitor@monitor.example.net>;tag=a73kszlfl",
        "To: <sip:proxy.example.com>;tag=abc",
        "Call-ID: 1j9FpLxk3uxtm8tn@monitor.example.net",
        "CSeq: 1 OPTIONS",
        "Server: kamapy (0.1.0 (x86_64/linux))",
        "Content-Length: 0",
        "", ""]


def test_no_received_when_host_is_source_and_no_rport():
    data = OPTIONS.replace(b";rport", b"")
    out, _ = reply_lines(data, src=("203.0.113.9", 5062))
    assert out[1] == "Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bK1701a"
    out, _ = reply_lines(data, src=("203.0.113.10", 5062))
    assert out[1] == "Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bK1701a;received=203.0.113.10"
    out, _ = reply_lines(data, src=("203.0.113.9", 5062), force_rport=True)
    assert out[1] == "Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bK1701a;rport=5062"


def test_rport_with_value_is_replaced_and_received_added_even_for_same_host():
    data = OPTIONS.replace(b";rport", b";rport=1;x=y")
    out, _ = reply_lines(data, src=("203.0.113.9", 40000))
    # the rport replaced in place, received at the end of the header (Kamailio 5.6;
    # tests/wire/test_sl_vs_kamailio.py asks Kamailio itself)
    assert out[1] == "Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bK1701a;rport=40000;x=y;received=203.0.113.9"


def test_ipv6_source_matches_bracketed_via_host():
    data = IPV6.replace(b";rport", b"")
    out, _ = reply_lines(data, src=("2001:DB8::9", 5060))
    assert out[1] == "Via: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKv6x1"


def test_to_tag_rules():
    out, _ = reply_lines(OPTIONS, code=100, reason="Trying", to_tag="abc")
    assert "To: <sip:proxy.example.com>" in out          # no tag below 180 (Kamailio sl)
    out, _ = reply_lines(OPTIONS, code=180, reason="Ringing", to_tag="abc")
    assert "To: <sip:proxy.example.com>;tag=abc" in out
    tagged = OPTIONS.replace(b"To: <sip:proxy.example.com>", b"To: <sip:proxy.example.com>;tag=old")
    out, _ = reply_lines(tagged, code=404, reason="Not Here", to_tag="abc")
    assert "To: <sip:proxy.example.com>;tag=old" in out


def test_all_vias_kept_in_order_and_compact_names_kept():
    out, _ = reply_lines(COMPACT, code=486, reason="Busy Here", to_tag="t")
    assert out[1].startswith("v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;received=")
    assert out[2] == "v: SIP/2.0/TCP proxy1.example.com:5070;branch=z9hG4bK2d4790.1 , SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKx;received=10.1.1.2"
    assert out[3] == "t: Carol <sip:carol@chicago.example.com>;tag=t"
    assert out[4].startswith("f: ") and out[5].startswith("i: ") and out[6].startswith("CSeq: ")


def test_record_route_only_for_180_to_299():
    data = OPTIONS.replace(b"Max-Forwards", b"Record-Route: <sip:p;lr>\r\nMax-Forwards")
    assert "Record-Route: <sip:p;lr>" in reply_lines(data, code=200)[0]
    assert "Record-Route: <sip:p;lr>" not in reply_lines(data, code=100, reason="Trying")[0]
    assert "Record-Route: <sip:p;lr>" not in reply_lines(data, code=404, reason="x")[0]


def test_extra_headers_body_and_no_server():
    out, _ = reply_lines(INVITE_SDP, code=488, reason="Not Acceptable Here", to_tag="x",
                         headers="Warning: 399 kamapy \"no\"\r\nX-A: 1\r\n", body="text\u20ac",
                         server_header="")
    assert out[-5:] == ['Warning: 399 kamapy "no"', "X-A: 1", "Content-Length: 7", "", "text\u20ac"]
    assert not any(x.startswith("Server:") for x in out)


def test_sl_to_tag_is_stable_and_kamailio_shaped():
    init_sl_tags("127.0.0.1", "5060")
    m1 = SipMsg(OPTIONS)
    m2 = SipMsg(OPTIONS)
    t = sl_to_tag(m1)
    assert t == sl_to_tag(m2) and len(t) == 32 + 1 + 8 and t[32] == "."
    assert is_sl_to_tag(m2, t) and not is_sl_to_tag(m2, "x")
    other = SipMsg(OPTIONS.replace(b"z9hG4bK1701a", b"z9hG4bK1701b"))
    assert sl_to_tag(other)[:33] == t[:33] and sl_to_tag(other) != t


def test_crc_and_reverse_hex_match_kamailio():
    # CRC-16/X-25 check value for "123456789" is 0x906E
    assert crc16_ccitt(["1234", "56789"]) == 0x906E
    # against the table-driven definition (polynomial 0x8408) on other input

    def slow(data):
        crc = 0xFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        return ~crc & 0xFFFF
    for text in ["", "a", "z9hG4bK776asdhds5060pc33.atlanta.com", "\xff\x00abc"]:
        assert crc16_ccitt([text]) == slow(text.encode("latin-1"))
    assert reverse_hex(0x906E, 4) == "e609" and reverse_hex(0x10, 4) == "0100" and reverse_hex(0) == "0"
