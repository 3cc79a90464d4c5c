"""Lump composition, checked against what Kamailio's process_lumps would print."""

from kamapy.sip import lumps as L
from kamapy.sip.msg import RecvInfo, SipMsg
from kamapy.sip.outgoing import build_message, build_reply_forward, build_request
from tests.sip.corpus import CORPUS, INVITE_SDP, OK_FORK2, OPTIONS, RINGING_FORK1

SIMPLE = (b"MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
          b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\n"
          b"CSeq: 1 MESSAGE\r\nContent-Length: 5\r\n\r\nhello")


def msg(data=SIMPLE, src="192.0.2.1"):
    return SipMsg(data, RecvInfo(src, 5060))


def lines(data: bytes):
    return data.decode("latin-1").split("\r\n")


def test_append_keeps_call_order_and_insert_goes_on_top():
    m = msg()
    L.append_header(m, "X-One: 1")
    L.append_header(m, "X-Two: 2\r\n")
    L.insert_header(m, "X-Top: t")
    out = lines(build_message(m))
    assert out[1] == "X-Top: t" and out[-4:] == ["X-One: 1", "X-Two: 2", "", "hello"]


def test_same_anchor_newest_first_and_chaining_in_order():
    m = msg()
    hf = m.get_header("call-id")
    a = L.anchor_lump(m, hf.start)
    L.insert_before(a, "A: 1\r\n")
    L.insert_before(a, "B: 1\r\n")        # newest before-text is printed first
    x = L.insert_after(a, "C: 1\r\n")
    L.insert_after(x, "D: 1\r\n")         # chained on the returned lump: stays after C
    L.insert_after(a, "E: 1\r\n")         # same anchor again: nearest the anchor
    out = lines(build_message(m))
    i = out.index("B: 1")
    assert out[i:i + 6] == ["B: 1", "A: 1", "E: 1", "C: 1", "D: 1", "Call-ID: c"]


def test_delete_and_replace_header():
    m = msg()
    L.delete_header(m, m.get_header("to"))
    L.replace_header(m, m.get_header("call-id"), "Call-ID: new")
    out = lines(build_message(m))
    assert "To: <sip:b@example.com>" not in out and "Call-ID: new" in out and "Call-ID: c" not in out


def test_insert_inside_deleted_region_is_dropped():
    m = msg()
    hf = m.get_header("from")
    d = L.delete_header(m, hf)
    L.insert_after(d, "From: <sip:x@y>;tag=2\r\n")
    inner = L.anchor_lump(m, hf.start + 3)         # inside the deleted range
    L.insert_before(inner, "LOST")
    same = L.anchor_lump(m, hf.start)              # same offset, added after the delete
    L.insert_before(same, "ALSO-LOST")
    data = build_message(m).decode()
    assert "LOST" not in data and "From: <sip:x@y>;tag=2\r\n" in data
    assert "tag=1" not in data


def test_anchor_before_delete_at_same_offset_survives():
    m = msg()
    hf = m.get_header("from")
    a = L.anchor_lump(m, hf.start)
    L.insert_before(a, "X-Before: 1\r\n")
    L.delete_header(m, hf)
    data = build_message(m).decode()
    assert "X-Before: 1\r\nTo:" in data


def test_body_change_fixes_content_length():
    m = msg()
    L.replace_body_range(m, 0, 5, "hello world")
    data = build_message(m)
    assert data.endswith(b"Content-Length: 11\r\n\r\nhello world")


def test_sdp_rewrite_through_body_lumps():
    m = msg(INVITE_SDP)
    sdp = m.sdp
    for c in sdp.connections():
        L.replace_body_range(m, c.address_start, c.address_end, "203.0.113.200")
    for media in sdp.medias:
        L.replace_body_range(m, media.port_start, media.port_end, "30000")
    out = SipMsg(build_message(m))
    assert out.content_length == len(out.body)
    assert [c.address for c in out.sdp.connections()] == ["203.0.113.200"] * 2
    assert [x.port for x in out.sdp.medias] == [30000, 30000]


def test_udp_without_content_length_stays_without_but_tcp_gets_one():
    data = SIMPLE.replace(b"Content-Length: 5\r\n", b"")
    m = msg(data)
    L.replace_body(m, "hi")
    assert b"Content-Length" not in build_message(m)
    tcp = build_message(m, proto="tcp")
    assert tcp.endswith(b"Content-Length: 2\r\n\r\nhi")


def test_tcp_fixes_wrong_content_length():
    m = msg(SIMPLE.replace(b"Content-Length: 5", b"Content-Length: 9"))
    assert b"Content-Length: 9" in build_message(m)
    assert b"Content-Length: 5\r\n" in build_message(m, proto="tcp")


def test_build_request_with_ruri_via_rr_and_received():
    m = msg(OPTIONS, src="198.51.100.77")
    m.set_ruri("sip:proxy.example.com:5080;transport=udp")
    L.add_record_route(m, "<sip:10.0.0.1;lr>")
    out = lines(build_request(m, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKnew"))
    assert out[0] == "OPTIONS sip:proxy.example.com:5080;transport=udp SIP/2.0"
    assert out[1] == "Record-Route: <sip:10.0.0.1;lr>"
    assert out[2] == "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKnew"
    assert out[3] == ("Via: SIP/2.0/UDP 203.0.113.9:5062;received=198.51.100.77;"
                      "branch=z9hG4bK1701a;rport=5060")
    assert m.lumps and len(m.lumps) == 1  # the builder's own lumps live in a copy


def test_received_forced_rport_and_old_received():
    data = SIMPLE.replace(b"branch=z9hG4bK1", b"branch=z9hG4bK1;received=1.1.1.1")
    m = msg(data, src="192.0.2.99")
    out = lines(build_request(m, "SIP/2.0/UDP me;branch=z9hG4bKb", force_rport=True))
    # the old received is replaced in place; rport joins the same anchor, newest first
    assert out[2] == "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport=5060;received=192.0.2.99"
    m = msg(src="192.0.2.1")
    out = lines(build_request(m, "SIP/2.0/UDP me;branch=z9hG4bKb", force_rport=True))
    assert out[2] == "Via: SIP/2.0/UDP 192.0.2.1;rport=5060;branch=z9hG4bK1"


def test_path_vector_becomes_route():
    m = msg()
    m.path_vec = "<sip:edge.example.com;lr>"
    out = lines(build_request(m, "SIP/2.0/UDP me;branch=z9hG4bKb"))
    assert out[1].startswith("Via: SIP/2.0/UDP me") and out[2] == "Route: <sip:edge.example.com;lr>"


def test_reply_forward_removes_top_via():
    m = msg(RINGING_FORK1)
    out = lines(build_reply_forward(m))
    assert out[1].startswith("Via: SIP/2.0/UDP 192.168.1.20:5060") and len(out) == len(lines(RINGING_FORK1)) - 1
    m = msg(OK_FORK2)
    out = build_reply_forward(m)
    assert b"proxy.example.com;branch" not in out
    assert b"\r\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch" in out
    re = SipMsg(out)
    assert len(re.vias) == 1 and re.content_length == len(re.body)


def test_all_corpus_requests_survive_a_full_rewrite():
    for data in CORPUS.values():
        m = msg(data)
        if m.type != 1:
            continue
        L.append_header(m, "X-Seen: yes")
        out = SipMsg(build_request(m, "SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKz"))
        assert out.via1.host == "10.9.9.9" and out.get_header("x-seen").value == "yes"
        assert out.callid == m.callid and len(out.vias) == len(m.vias) + 1


def test_find_lumps_by_kind():
    m = msg()
    L.add_record_route(m, "<sip:a;lr>")
    assert [x.text for x in L.find_lumps(m, "record-route") if x.text] == ["Record-Route: <sip:a;lr>\r\n"]
