"""binrpc encoding (Kamailio's binrpc.h examples) and the binrpc address syntax."""

from __future__ import annotations

import pytest
from kamapy_modules.ctl import binrpc
from kamapy_modules.ctl.server import DEFAULT_PORT, ListenId, parse_listen_id


def test_records_as_binrpc_h_documents_them():
    assert binrpc.rec_int(0x1234) == b"\x20\x12\x34"
    assert binrpc.rec_int(7) == b"\x10\x07"
    assert binrpc.rec_int(0) == b"\x00"
    assert binrpc.rec_str("abcdef") == b"\x71abcdef\x00"
    assert binrpc.rec_str("abcdefhij") == b"\x91\x0aabcdefhij\x00"
    assert binrpc.rec_str("") == b"\x11\x00"
    w = binrpc.ReplyWriter()
    assert w.top({"intval": 3, "s": "abc"}) == b"\x03\x75intval\x00\x10\x03\x25s\x00\x41abc\x00\x83"


def test_header_and_request_round_trip():
    pkt = binrpc.build_request("cfg.set_now_int", ["core", "debug", 3, 1.5], cookie=0x1234)
    msg_type, body_len, cookie, hdr = binrpc.parse_header(pkt)
    assert (msg_type, cookie, hdr + body_len) == (binrpc.REQ, 0x1234, len(pkt))
    assert binrpc.split_request(pkt[hdr:]) == ("cfg.set_now_int", ["core", "debug", 3, 1.5])
    with pytest.raises(binrpc.NeedMore):
        binrpc.parse_header(pkt[:3])
    with pytest.raises(binrpc.BinrpcError):
        binrpc.parse_header(b"GET / HTTP/1.0")


def test_values_kamailio_would_send():
    w = binrpc.ReplyWriter()
    body = w.body([{"a": [1, "x"], "b": None, "big": 1 << 40, "neg": -5}, "line"])
    assert binrpc.read_records(body) == [{"a": [1, "x"], "b": "<null string>", "big": float(1 << 40),
                                          "neg": -5}, "line"]
    # a one-member dict in a list is a named member (struct_add on an array handle)
    assert binrpc.read_records(w.body({"Domains": [{"Domain": {"Size": 1}}]})) == [
        {"Domains": {"Domain": {"Size": 1}}}]
    assert w.body(None) == b""


def test_size_limits():
    with pytest.raises(binrpc.Overflow):
        binrpc.ReplyWriter(max_body=100).body(["x" * 200])
    w = binrpc.ReplyWriter(max_struct=40)
    out = binrpc.read_records(w.body({"a": "x" * 10, "b": "y" * 50}))
    assert out == [{"a": "x" * 10}] and w.dropped == 1


@pytest.mark.parametrize("text,expected", [
    ("unixs:/tmp/s", ListenId("unixs", "/tmp/s")),
    ("unix:/tmp/s", ListenId("unixs", "/tmp/s")),
    ("unixd:/tmp/d", ListenId("unixd", "/tmp/d")),
    ("/tmp/unix_test", ListenId("unixs", "/tmp/unix_test")),
    ("localhost:3000", ListenId("udp", "localhost", 3000)),
    ("tcp:3012", ListenId("tcp", "*", 3012)),
    ("udp:*:3012", ListenId("udp", "*", 3012)),
    ("tcp:127.0.0.1:2046", ListenId("tcp", "127.0.0.1", 2046)),
    ("tcp:localhost", ListenId("tcp", "localhost", DEFAULT_PORT)),
])
def test_listen_ids(text, expected):
    assert parse_listen_id(text) == expected


def test_fifo_protocol_is_refused():
    with pytest.raises(ValueError, match="fifo"):
        parse_listen_id("fifo:/tmp/kamailio_fifo")
