"""rtpengine without a daemon: the bencode codec, the flags mapping, rtpengine_sock
parsing, which body part is the SDP, and its replacement composing with other lumps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from module_test_messages import request, sent

from kamapy.mem import shm
from kamapy.sip import sdp_body
from kamapy.sip.lumps import anchor_lump, insert_after
from modules.rtpengine import bencode, body
from modules.rtpengine.flags import FlagError, describe, parse_flags, tokens
from modules.rtpengine.nodes import Registry, SockParamError

# ------------------------------------------------------------------ bencode
values = st.recursive(
    st.integers(-10**12, 10**12) | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text("abcdefghij-", min_size=1, max_size=6), inner, max_size=5),
    max_leaves=20)


@given(values)
def test_bencode_round_trip(v):
    assert bencode.decode(bencode.encode(v)) == v


def test_bencode_known_bytes():
    assert bencode.encode({"command": "ping"}) == b"d7:command4:pinge"
    assert bencode.decode(b"d6:result4:ponge") == {"result": b"pong"}
    assert bencode.encode(bencode.Pairs([("a", 1), ("a", [b"x", -2])])) == b"d1:ai1e1:al1:xi-2eee"
    assert bencode.encode("\xe9") == b"1:\xe9"  # latin-1: SIP text byte for byte


@pytest.mark.parametrize("bad", [b"", b"d", b"i12", b"i-e", b"i03e", b"5:abc", b"l", b"d1:a",
                                 b"di1ei2ee", b"x", b"4:pingX", b"d7:command4:ping"])
def test_bencode_refuses_garbage(bad):
    with pytest.raises(bencode.BencodeError):
        bencode.decode(bad)


# ------------------------------------------------------------------ flags
def test_tokens_split_like_kamailio():
    assert list(tokens("  a  b=c d= e=f=g")) == [("a", None), ("b", "c"), ("d", ""), ("e", "f=g")]


def test_flags_mapping():
    ng = parse_flags("replace-origin replace=session-connection SDES-off SDES=no-AES_CM_128_HMAC_SHA1_32 "
                     "T38-decode T.38=force rtcp-mux-demux transcode-PCMA codec-transcode=G722 "
                     "codec-strip-all codec-offer=opus codec-mask-PCMU codec-set-PCMA/8000 "
                     "codec-except=G729 internal external direction=priv trust-address "
                     "ICE=force DTLS=passive record-call=yes TOS=0x20 via-branch=auto "
                     "repacketize=20ms", "offer")
    assert ng.replace == ["origin", "session-connection"]
    assert ng.sdes == ["off", "no-AES_CM_128_HMAC_SHA1_32"]
    assert ng.t38 == ["decode", "force"] and ng.rtcp_mux == ["demux"]
    assert dict(ng.codec) == {"transcode": ["PCMA", "G722"], "strip": ["all"], "offer": ["opus"],
                              "mask": ["PCMU"], "set": ["PCMA/8000"], "except": ["G729"]}
    assert ng.direction == ["internal", "external", "priv"]
    assert ng.flags == ["trust-address"]
    # TOS is C atoi: "0x20" -> 0; repacketize reads leading digits
    assert list(ng.dict) == [("ICE", "force"), ("DTLS", "passive"), ("record-call", "yes"),
                             ("TOS", 0), ("repacketize", 20)]
    assert ng.via == 3 and ng.transport_protocol is None


@pytest.mark.parametrize("flags,proto", [
    ("RTP/AVP", "RTP/AVP"), ("RTP/SAVP", "RTP/SAVP"), ("RTP/AVPF", "RTP/AVPF"),
    ("RTP/SAVPF", "RTP/SAVPF"), ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVP"),
    ("UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVPF"), ("SRTP", "RTP/SAVP"), ("SRTP AVPF", "RTP/SAVPF"),
    ("DTLS AVPF", "UDP/TLS/RTP/SAVPF"), ("DTLS AVPF SRTP", None), ("RTP/SAVPF RTP", "RTP/AVPF"),
    ("RTP/SAVPF AVP", "RTP/SAVP"), ("AVPF", "RTP/AVPF"), ("DTLS=off", None)])
def test_transport_protocol(flags, proto):
    assert parse_flags(flags, "offer").transport_protocol == proto


def test_overrides_and_quirks():
    ng = parse_flags("call-id=X from-tag=F to-tag=T delete-delay=5 force-answer", "offer")
    assert (ng.call_id, ng.from_tag, ng.to_tag, ng.directional, ng.op) == ("X", "F", "T", True, "answer")
    # Kamailio adds delete-delay twice: the integer and, falling through, the string
    assert list(ng.dict) == [("delete delay", 5), ("delete-delay", "5")]
    assert parse_flags("", "delete").to is False and parse_flags(None, "offer").to is True
    assert parse_flags("to-tag", "delete").to is True
    assert parse_flags("replace", "offer").flags == ["replace"]  # no value: a plain flag
    assert parse_flags("via-branch=1x", "offer").via == 1         # first character only


@pytest.mark.parametrize("flags,message", [
    ("force-answer", "error processing flag `force-answer': cannot force answer in non-offer command"),
    ("via-branch", "error processing flag `via-branch': missing value"),
    ("via-branch=3", "error processing flag `via-branch' (value '3'): invalid value"),
    ("repacketize=0", "error processing flag `repacketize' (value '0'): invalid value"),
    ("call-id", "error processing flag `call-id': missing value"),
    ("from-tag", "error processing flag `from-tag': missing value"),
])
def test_refused_flags(flags, message):
    with pytest.raises(FlagError) as e:
        parse_flags(flags, "answer" if flags == "force-answer" else "offer")
    assert describe(e.value) == message


# ------------------------------------------------------------------ rtpengine_sock
def test_sock_sets_and_weights():
    r = Registry()
    r.add_sock_param("udp:127.0.0.1:2222=2 udp:127.0.0.1:2223", 0)
    r.add_sock_param(" 5 == udp6:[::1]:2224=7 unix:/run/rtpe.sock", 0)
    r.add_sock_param("udp:127.0.0.1:2222=4", 0)             # the same URL again: new weight
    r.add_sock_param("tcp:127.0.0.1:1 ws://x udp:1.2.3.4:x udp:localhost", 0)  # ignored, ignored, bad port, default port
    assert [(s.id, [(n.url, n.weight) for n in s.nodes]) for s in r.sets] == [
        (0, [("udp:127.0.0.1:2222", 4), ("udp:127.0.0.1:2223", 1), ("udp:localhost", 1)]),
        (5, [("udp6:[::1]:2224", 7), ("unix:/run/rtpe.sock", 1)])]
    assert (r.sets[1].nodes[0].host, r.sets[1].nodes[0].port) == ("::1", 2224)
    assert r.sets[0].nodes[2].port == 22222
    with pytest.raises(SockParamError):
        r.add_sock_param("x == udp:127.0.0.1:1", 0)
    with pytest.raises(SockParamError):
        r.add_sock_param("1 ==", 0)


def test_pick_by_weight_skip_and_redetection():
    """Registry.pick, rtpengine's and rtpproxy's select loop: total modulo the enabled
    weights in list order; a due disabled node re-tested first, a PERMANENT one not; no
    weight left: one forced re-test of every node, only with redetect."""
    try:
        shm.pool()
    except RuntimeError:
        shm.init_pool(4 << 20)
    r = Registry()
    r.add_sock_param("udp:127.0.0.1:2222=2 udp:127.0.0.1:2223=3", 0)
    r.create_shm(16)
    a, b = r.sets[0].nodes
    tested = []

    def retest(node, isdisabled, force, enable=()):
        tested.append((node.url[-4:], force))
        r.set_state(node, node not in enable, r.recheck(node))

    assert [r.pick([a, b], t, retest).url[-4:] for t in range(6)] == [
        "2222", "2222", "2223", "2223", "2223", "2222"]
    assert r.pick([a, b], 0, retest, skip=[a]) is b
    assert r.pick([a, b], 0, retest, skip=[a, b], redetect=False) is None and tested == []
    r.set_state(a, True, 0)                      # due: re-tested, stays down
    r.set_state(b, True, -1)                     # PERMANENT: never re-tested unforced
    assert r.pick([a, b], 0, retest, redetect=False) is None
    assert tested == [("2222", False)]
    tested.clear()
    assert r.pick([a, b], 4, lambda n, d, f: retest(n, d, f, enable=(b,) if f else ())) is b
    # the forced round, then the choice again: a, still due, is re-tested once more
    assert tested == [("2222", False), ("2222", True), ("2223", True), ("2222", False)]


# ------------------------------------------------------------------ the SDP part
SDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def test_plain_body_is_the_whole_body():
    msg = request(body=SDP)
    start, end, kind = body.extract(msg)
    assert msg.text[start:end] == SDP and kind == body.CT_SDP


def test_multipart_sdp_part_and_replacement():
    mp = ("--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
          "--b1\r\nContent-Type: application/sdp\r\n\r\n" + SDP +
          "\r\n--b1--\r\n")
    msg = request(body=mp, content_type='multipart/mixed;boundary="b1"')
    start, end, kind = body.extract(msg)
    assert kind == body.CT_MULTIPART and msg.text[start:end] == SDP
    body.replace(msg, start, end, "v=0\r\nNEW\r\n")
    out = sent(msg)
    assert "hello\r\n--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nNEW\r\n\r\n--b1--" in out
    head, rest = out.split("\r\n\r\n", 1)
    assert f"Content-Length: {len(rest)}" in head


def test_replacement_composes_with_other_lumps():
    msg = request(body=SDP)
    start, end, _ = body.extract(msg)
    # a header change outside the body stays; a change inside the replaced range goes,
    # as Kamailio's overlapped-lump rule drops it
    insert_after(anchor_lump(msg, msg.eoh), "X-Kept: 1\r\n")
    inside = msg.text.index("10.0.0.1", start)
    insert_after(anchor_lump(msg, inside), "GONE")
    body.replace(msg, start, end, "v=0\r\n")
    out = sent(msg)
    assert "X-Kept: 1\r\n" in out and "GONE" not in out
    assert out.endswith("\r\n\r\nv=0\r\n") and "Content-Length: 5\r\n" in out


@pytest.mark.parametrize("ctype,kind", [
    ("application/sdp", 1), ("Application / SDP ;x=1", 1), ("multipart/mixed;boundary=x", 2),
    ("application/trickle-ice-sdpfrag", 3), ("text/plain", -1), ("application/sdpx", -1)])
def test_content_kinds(ctype, kind):
    assert sdp_body.content_kind(request(body=SDP, content_type=ctype), trickle=True) == kind


def test_no_body_or_length_mismatch():
    assert body.extract(request()) is None
    assert not body.has_sdp(request())
    assert body.has_sdp(request(body=SDP))


@given(st.dictionaries(st.text("abcdefg", min_size=1, max_size=4), values, max_size=6))
def test_decode_keys_is_decode_restricted(v):
    data = bencode.encode(v)
    keys = {k for k in v if len(k) % 2}
    assert bencode.decode_keys(data, keys) == {k: x for k, x in v.items() if k in keys}


@pytest.mark.parametrize("bad", [b"d1:ai1e1:b", b"d1:ai1e1:bi1", b"d1:ai1e1:bixe", b"d1:al1:xe", b"di1ei2ee",
                                 b"d1:a1:be1", b"l1:ae", b"d1:ad1:xl5:abee"])
def test_decode_keys_refuses_garbage_it_skips(bad):
    with pytest.raises(bencode.BencodeError):
        bencode.decode_keys(bad, {"z"})


def test_unix_node_sends_the_bare_dictionary(tmp_path):
    """unix: nodes get the dictionary without a cookie over a stream socket, one
    connection per command, as Kamailio's RNU_LOCAL mode."""
    import socket
    import threading

    from modules.rtpengine import client
    from modules.rtpengine.nodes import Registry
    path = str(tmp_path / "ng.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = []

    def serve():
        conn, _ = srv.accept()
        got.append(conn.recv(65536))
        conn.sendall(bencode.encode({"result": "pong"}))
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = Registry()
    r.add_sock_param(f"unix:{path}", 0)
    reply = client.send_command(r.nodes[0], bencode.Pairs([("command", "ping")]))
    t.join(2)
    srv.close()
    assert got == [b"d7:command4:pinge"]
    assert bencode.decode(reply) == {"result": b"pong"}
