"""nathelper's message functions on parsed messages: return codes, and the bytes the
lumps give when the message is sent on."""

from __future__ import annotations

import pytest
from kamapy_modules.nathelper import alias, messages, private, sdp_fix
from module_test_messages import header_lines, reply, request, sent

SRC = ("203.0.113.9", 40001)
SDP = ("v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 192.168.1.20\r\n"
       "m=video 4002 RTP/AVP 96\r\n")


@pytest.fixture(autouse=True)
def _defaults():
    private.STATE["nat_addr_mode"] = 1
    sdp_fix.STATE.update(nortpproxy="a=nortpproxy:yes", oldmediaip=1)
    alias.set_name("alias")
    messages.CFG["received_avp"] = None
    yield
    alias.set_name("alias")


def contact_req(contact, **kw):
    msg = request(src=SRC, **kw)
    text = msg.text.replace("Contact: <sip:alice@198.51.100.7:5060>", f"Contact: {contact}")
    from kamapy.sip.msg import RecvInfo, SipMsg
    return SipMsg(text.encode("latin-1"), RecvInfo(src_ip=SRC[0], src_port=SRC[1]))


@pytest.mark.parametrize("addr,want", [
    ("10.0.0.1", 1), ("172.16.0.1", 1), ("172.31.255.255", 1), ("172.32.0.1", 0),
    ("192.168.7.7", 1), ("100.64.0.1", 1), ("100.127.255.255", 1), ("100.128.0.0", 0),
    ("192.0.0.7", 1), ("192.0.0.8", 1), ("192.0.1.1", 0), ("8.8.8.8", 0), ("10.1", 1),
    ("fd00::1", -1), ("example.com", -1), ("", -1),
])
def test_private_ranges(addr, want):
    assert private.is1918_text(addr) == want


def test_nat_addr_mode_0_drops_the_ietf_assignments_block():
    private.STATE["nat_addr_mode"] = 0
    assert private.is1918_text("192.0.0.7") == 1   # the /29 stays private
    assert private.is1918_text("192.0.0.8") == 0


def test_is_rfc1918_return_codes():
    msg = request()
    assert messages.is_rfc1918(msg, "10.0.0.1") == 1
    assert messages.is_rfc1918(msg, "8.8.8.8") == -1
    assert messages.is_rfc1918(msg, "") == -2


def test_nat_uac_test_flags():
    via = "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKx"
    msg = contact_req("<sip:a@192.168.0.5:5070>", via=via)
    assert messages.nat_uac_test(msg, 1) == 1
    assert messages.nat_uac_test(msg, 2) == 1      # Via host is not the source
    assert messages.nat_uac_test(msg, 4) == 1
    assert messages.nat_uac_test(msg, 16) == 1     # 5070 != 40001
    assert messages.nat_uac_test(msg, 32) == -1    # 203.0.113.9 is public
    assert messages.nat_uac_test(msg, 64) == -1
    assert messages.nat_uac_test(msg, 128) == 1
    assert messages.nat_uac_test(msg, 0) == -1
    ok = contact_req(f"<sip:a@{SRC[0]}:{SRC[1]}>", via=f"SIP/2.0/UDP {SRC[0]}:{SRC[1]};branch=z9hG4bKx")
    assert messages.nat_uac_test(ok, 1 | 2 | 4 | 16 | 128) == -1


def test_nat_uac_test_sdp_flags():
    msg = request(src=SRC, body=SDP)
    assert messages.nat_uac_test(msg, 8) == 1
    assert messages.nat_uac_test(msg, 256) == 1
    pub = request(src=SRC, body=SDP.replace("192.168.1.20", SRC[0]))
    assert messages.nat_uac_test(pub, 8) == -1
    assert messages.nat_uac_test(pub, 256) == -1
    held = request(src=SRC, body=SDP.replace("192.168.1.20", "0.0.0.0"))
    assert messages.nat_uac_test(held, 8) == -1


def test_nat_uac_test_destination():
    msg = request(src=SRC)
    assert messages.nat_uac_test(msg, 512) == -1
    msg.dst_uri = "sip:198.51.100.1:5080"
    assert messages.nat_uac_test(msg, 512) == 1
    ws = request(ruri="sip:bob@example.com;transport=ws", src=SRC)
    assert messages.nat_uac_test(ws, 512) == 1


def test_fix_nated_contact_rewrites_hostport_and_drops_maddr():
    msg = contact_req('"A" <sip:alice@10.0.0.5;x=1;maddr=10.0.0.6;y=2>;expires=60')
    assert messages.fix_nated_contact(msg) == 1
    assert header_lines(sent(msg), "Contact") == [
        f'Contact: "A" <sip:alice@{SRC[0]}:{SRC[1]};x=1;y=2>;expires=60']
    assert messages.fix_nated_contact(msg) == -1   # the second call is refused
    assert messages.nat_uac_test(msg, 1) == -1     # later tests read the new URI


def test_fix_nated_contact_without_contact():
    msg = request(src=SRC)
    msg2 = type(msg)(msg.text.replace("Contact: <sip:alice@198.51.100.7:5060>\r\n", "").encode("latin-1"),
                     msg.rcv)
    assert messages.fix_nated_contact(msg2) == -1


def test_add_rcv_param_header_and_uri():
    msg = contact_req("<sip:a@10.0.0.5>;expires=60, sip:b@10.0.0.6")
    assert messages.add_rcv_param(msg, 0) == 1
    src = f"sip:{SRC[0]}:{SRC[1]}"
    assert header_lines(sent(msg), "Contact") == [
        f'Contact: <sip:a@10.0.0.5>;expires=60;received="{src}", sip:b@10.0.0.6;received="{src}"']
    msg = contact_req("<sip:a@10.0.0.5;ob>")
    assert messages.add_rcv_param(msg, 1) == 1
    assert header_lines(sent(msg), "Contact") == [f"Contact: <sip:a@10.0.0.5;ob;received={src}>"]


def test_fix_nated_register_fills_the_avp():
    from kamapy.pv.avp import avp_values
    msg = request(method="REGISTER", src=SRC)
    assert messages.fix_nated_register(msg) == 1   # no received_avp: nothing to do
    assert not avp_values(msg, "rcv")
    messages.CFG["received_avp"] = "rcv"
    assert messages.fix_nated_register(msg) == 1
    assert avp_values(msg, "rcv") == [f"sip:{SRC[0]}:{SRC[1]}"]


def test_fix_nated_sdp_flags():
    msg = request(src=SRC, body=SDP)
    assert sdp_fix.fix_nated_sdp(msg, 1 | 2 | 4) == 1
    body = sent(msg).split("\r\n\r\n", 1)[1]
    assert body == (
        f"v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 {SRC[0]}\r\nt=0 0\r\n"
        f"m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 {SRC[0]}\r\na=direction:active\r\n"
        "m=video 4002 RTP/AVP 96\r\na=direction:active\r\na=nortpproxy:yes"
        "\r\na=oldmediaip:192.168.1.20\r\na=oldmediaip:192.168.1.20\r\n")
    assert header_lines(sent(msg), "Content-Length") == [f"Content-Length: {len(body)}"]


def test_fix_nated_sdp_origin_ip_argument_and_no_change():
    msg = request(src=SRC, body=SDP)
    sdp_fix.STATE["oldmediaip"] = 0
    assert sdp_fix.fix_nated_sdp(msg, 8, "198.51.100.4") == 1
    body = sent(msg).split("\r\n\r\n", 1)[1]
    assert "o=- 1 1 IN IP4 198.51.100.4\r\n" in body and "c=IN IP4 192.168.1.20" in body
    same = request(src=SRC, body=SDP.replace("192.168.1.20", SRC[0]))
    assert sdp_fix.fix_nated_sdp(same, 2) == 2
    assert sdp_fix.fix_nated_sdp(request(src=SRC), 2) == -1        # no body
    plain = request(src=SRC, body=SDP, content_type="text/plain")
    assert sdp_fix.fix_nated_sdp(plain, 2) == -1


def test_add_contact_alias_and_handle_ruri_alias():
    msg = contact_req("sip:alice@10.0.0.5;transport=udp")
    assert alias.add_contact_alias(msg) == 1
    assert header_lines(sent(msg), "Contact") == [
        f"Contact: <sip:alice@10.0.0.5;alias={SRC[0]}~{SRC[1]}~1>;transport=udp"]
    same = contact_req(f"<sip:alice@{SRC[0]}:{SRC[1]};transport=udp>")
    assert alias.add_contact_alias(same) == 2
    three = contact_req("<sip:alice@10.0.0.5>")
    assert alias.w_add_contact_alias(three, "192.0.2.9", "5088", "tcp") == 1
    assert header_lines(sent(three), "Contact") == ["Contact: <sip:alice@10.0.0.5;alias=192.0.2.9~5088~2>"]
    # Kamailio's str2ip lets an octet over 255 wrap, so 300.1.1.1 passes; a name does not
    assert alias.w_add_contact_alias(contact_req("<sip:a@h>"), "300.1.1.1", "5088", "tcp") == 1
    assert alias.w_add_contact_alias(contact_req("<sip:a@h>"), "host.example", "5088", "tcp") == -1

    r = request(ruri="sip:bob@10.0.0.5:5070;alias=192.0.2.1~5080~2;ob", src=SRC)
    assert alias.handle_ruri_alias(r) == 1
    assert r.dst_uri == "sip:192.0.2.1:5080;transport=tcp"
    assert r.current_uri == "sip:bob@10.0.0.5:5070;ob"
    assert alias.handle_ruri_alias(request(src=SRC)) == 2
    bad = request(ruri="sip:bob@10.0.0.5;alias=192.0.2.1~5080", src=SRC)
    assert alias.handle_ruri_alias(bad) == -1


def test_handle_ruri_alias_last_fails_as_in_kamailio():
    # Kamailio 5.6.3 measures the last alias's value with the length left where its
    # parameter walk ended (6 short), so mode 1 finds no second '~' (case hra-last)
    r = request(ruri="sip:b@h;alias=192.0.2.1~5080~1;alias=192.0.2.2~5090~1", src=SRC)
    assert alias.handle_ruri_alias(r, 1) == -1
    assert r.dst_uri is None
    assert r.current_uri == "sip:b@h;alias=192.0.2.1~5080~1;alias=192.0.2.2~5090~1"


def test_set_contact_alias_and_trim():
    msg = contact_req("<sip:alice@10.0.0.5;alias=10.0.0.5~5070~1>")
    assert alias.set_contact_alias(msg, 1) == 1
    assert header_lines(sent(msg), "Contact") == [
        f"Contact: <sip:alice@10.0.0.5;alias={SRC[0]}~{SRC[1]}~1>"]
    assert alias.set_contact_alias(msg, 0) == -1
    bare = contact_req("sip:alice@10.0.0.5;expires=60")
    assert alias.set_contact_alias(bare) == 1
    assert header_lines(sent(bare), "Contact") == [
        f"Contact: <sip:alice@10.0.0.5;alias={SRC[0]}~{SRC[1]}~1>;expires=60"]


def test_alias_name_param():
    alias.set_name("saddr")
    msg = contact_req("<sip:alice@10.0.0.5>")
    assert alias.add_contact_alias(msg) == 1
    assert ";saddr=" in header_lines(sent(msg), "Contact")[0]
    r = request(ruri="sip:b@h;saddr=192.0.2.1~5080~1", src=SRC)
    assert alias.handle_ruri_alias(r) == 1 and r.dst_uri == "sip:192.0.2.1:5080"


def test_rr_pvs():
    msg = request(headers="Record-Route: <sip:a;r2=on;lr>, <sip:b;r2=on;lr>\r\nRecord-Route: <sip:c;lr>")
    assert messages.RrCountPv.get(None, msg) == 3
    assert messages.RrTopCountPv.get(None, msg) == 2
    assert messages.RrCountPv.get(None, request()) == 0
    assert messages.RrTopCountPv.get(None, request()) == 0
    assert messages.RrTopCountPv.get(None, request(headers="Record-Route: <sip:c;lr>")) == 1


def test_alias_to_uri():
    assert alias.alias_to_uri("<sip:a@h;alias=192.0.2.1~5080~2>") == "sip:192.0.2.1:5080;transport=tcp"
    assert alias.alias_to_uri("<sip:a@h>") is None


def test_reply_destination_test():
    rep = reply(headers="Via: SIP/2.0/UDP 10.0.0.1:5060;received=198.51.100.1;rport=5070")
    # the second Via is the one above; rport 5070 != 5060
    assert messages.nat_uac_test(rep, 512) == 1


def test_the_contact_seen_is_the_last_of_the_first_header():
    # Kamailio's contact list is built head-first: get_contact_uri gives the last one
    msg = contact_req("<sip:a@127.0.0.1>, <sip:b@10.0.0.1>")
    assert messages.nat_uac_test(msg, 1) == 1
    assert messages.fix_nated_contact(msg) == 1
    assert header_lines(sent(msg), "Contact") == [
        f"Contact: <sip:a@127.0.0.1>, <sip:b@{SRC[0]}:{SRC[1]}>"]


def test_fix_nated_sdp_in_a_multipart_body():
    sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    body = ("--b1\r\nContent-Type: text/plain\r\n\r\nc=IN IP4 10.0.0.1\r\n--b1\r\n"
            "Content-Type: application/sdp\r\n\r\n" + sdp + "--b1--\r\n")
    msg = request(src=SRC, body=body, content_type='multipart/mixed; boundary="b1"')
    assert messages.nat_uac_test(msg, 8) == 1
    assert sdp_fix.fix_nated_sdp(msg, 2) == 1
    out = sent(msg).split("\r\n\r\n", 1)[1]
    # the text part's c= line is not SDP and stays; the SDP part gets the new address
    assert out.startswith("--b1\r\nContent-Type: text/plain\r\n\r\nc=IN IP4 10.0.0.1\r\n")
    assert f"c=IN IP4 {SRC[0]}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=oldmediaip:10.0.0.1\r\n--b1--" in out


def v6_req(contact, via="SIP/2.0/UDP [2001:DB8::9]:5070;branch=z9hG4bKx"):
    from kamapy.sip.msg import RecvInfo, SipMsg
    msg = request(via=via)
    text = msg.text.replace("Contact: <sip:alice@198.51.100.7:5060>", f"Contact: {contact}")
    return SipMsg(text.encode("latin-1"), RecvInfo(src_ip="2001:db8::9", src_port=5070))


def test_ipv6_source():
    msg = v6_req("<sip:alice@10.0.0.5>")
    assert messages.nat_uac_test(msg, 2) == -1    # the Via host is the source, any case
    assert messages.nat_uac_test(msg, 32) == -1   # an IPv6 source is never private
    assert messages.fix_nated_contact(msg) == 1
    assert header_lines(sent(msg), "Contact") == ["Contact: <sip:alice@[2001:db8::9]:5070>"]
    msg = v6_req("<sip:alice@10.0.0.5>")
    assert alias.add_contact_alias(msg) == 1
    assert header_lines(sent(msg), "Contact") == ["Contact: <sip:alice@10.0.0.5;alias=[2001:db8::9]~5070~1>"]
    assert messages.src_uri(msg) == "sip:[2001:db8::9]:5070"
    # an alias written by this function routes back to the IPv6 address
    r = request(ruri="sip:b@h;alias=[2001:db8::9]~5070~1")
    assert alias.handle_ruri_alias(r) == 1 and r.dst_uri == "sip:[2001:db8::9]:5070"


def test_a_rewrite_is_seen_by_later_readers_of_the_parsed_contact():
    # Kamailio repoints the parsed contact: registrar's save() stores the new URI while
    # the header text stays as received
    msg = contact_req("<sip:alice@10.0.0.5:5070>;expires=60")
    assert alias.set_contact_alias(msg) == 1
    c = msg.contacts.contacts[0]
    assert c.uri == f"sip:alice@10.0.0.5:5070;alias={SRC[0]}~{SRC[1]}~1"
    assert c.parsed_uri.param("alias") == f"{SRC[0]}~{SRC[1]}~1"
    assert msg.get_header("contact").value == "<sip:alice@10.0.0.5:5070>;expires=60"
    # and the bytes sent on carry it exactly once
    assert header_lines(sent(msg), "Contact") == [
        f"Contact: <sip:alice@10.0.0.5:5070;alias={SRC[0]}~{SRC[1]}~1>;expires=60"]
